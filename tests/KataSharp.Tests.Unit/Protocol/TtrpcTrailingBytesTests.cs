using System.Buffers;
using System.Buffers.Binary;
using Google.Protobuf;
using Grpc.Core;
using KataSharp.Protocol.Agent.V1;
using KataSharp.Protocol.Ttrpc;
using KataSharp.Protocol.Ttrpc.Wire;
using AgentApi = KataSharp.Protocol.Agent.V1.Agent;

namespace KataSharp.Tests.Unit.Protocol;

/// <summary>
/// A ReadOutput answer can leave its bytes where they are (the process's pipe) and have the frame writer move them
/// onto the transport last: the frame must still be byte for byte the generated message's, whichever way they go.
/// </summary>
public sealed class TtrpcTrailingBytesTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(127)]
    [InlineData(128)]
    [InlineData(16_384)]
    [InlineData(1024 * 1024)]
    public void TrailingPayloadEncodesAsTheGeneratedResponse(int dataBytes)
    {
        var data = RandomBytes(dataBytes);
        using var source = new MemorySource(data, movable: false);
        var payload = TtrpcPayload.Of(new ReadOutputResponse { TrailingData = source });
        var status = new KataSharp.Protocol.Rpc.Status();

        var output = new ArrayBufferWriter<byte>();
        TtrpcResponseEncoding.Write(output, status, payload);
        source.CopyTo(output);

        Assert.Same(source, payload.Trailing);
        Assert.Equal(output.WrittenCount, TtrpcResponseEncoding.Size(status, payload));
        Assert.Equal(Expected(data), output.WrittenSpan.ToArray());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task FrameCarriesTheTrailingBytesMovedOrCopied(bool movable)
    {
        var data = RandomBytes(200_000);
        var transport = new MemoryStream();
        await using (var writer = TtrpcFrameWriter.Over(transport))
        {
            using var source = new MemorySource(data, movable);
            await WriteResponseAsync(writer, 7, source);
            Assert.Equal(movable ? (1, 0) : (0, 1), (source.Moved, source.Copied));
        }

        var frame = transport.ToArray();
        Assert.Equal((uint)(frame.Length - TtrpcFrameHeader.Size), BinaryPrimitives.ReadUInt32BigEndian(frame));
        Assert.Equal(7u, BinaryPrimitives.ReadUInt32BigEndian(frame.AsSpan(4)));
        Assert.Equal((byte)TtrpcMessageType.Response, frame[8]);
        Assert.Equal(Expected(data), frame[TtrpcFrameHeader.Size..]);
    }

    [Fact]
    public async Task TrailingBytesThatCannotAllBeMovedCloseTheConnection()
    {
        var transport = new MemoryStream();
        var writer = TtrpcFrameWriter.Over(transport);
        using var source = new MemorySource(RandomBytes(10), movable: true) { FailMove = true };

        var torn = await Assert.ThrowsAsync<IOException>(() => WriteResponseAsync(writer, 1, source));

        Assert.Contains("trailing bytes", torn.Message);
        await Assert.ThrowsAsync<IOException>(async () => await writer.WriteAsync(3, TtrpcMessageType.Response, 0, ReadOnlyMemory<byte>.Empty, CancellationToken.None));
    }

    [Fact]
    public async Task ServerSendsTheTrailingBytesAndGivesTheSourceBack()
    {
        var data = RandomBytes(300_000);
        var source = new MemorySource(data, movable: false);
        var registry = new TtrpcServiceRegistry();
        AgentApi.BindService(registry, new TrailingAgent(source));
        await using var harness = await TtrpcTestHarness.StartAsync(registry);

        var reply = ReadOutputResponse.Parser.ParseFrom(await harness.Client.CallAsync(AgentApi.Descriptor.FullName, "ReadOutput",
            new ReadOutputRequest { ContainerId = "c" }.ToByteArray()));

        Assert.Equal(data, reply.Data.ToByteArray());
        Assert.False(reply.Eof);
        Assert.Equal(1, source.Copied);
        Assert.Equal(1, source.Disposals);
    }

    [Fact]
    public void DataAndTrailingDataCannotBothBeSet()
    {
        using var source = new MemorySource([1], movable: false);
        Assert.Throws<InvalidOperationException>(() => new ReadOutputResponse { Data = ByteString.CopyFrom(2), TrailingData = source });
    }

    private static Task WriteResponseAsync(TtrpcFrameWriter writer, uint streamId, MemorySource source)
    {
        var status = new KataSharp.Protocol.Rpc.Status();
        var payload = TtrpcPayload.Of(new ReadOutputResponse { TrailingData = source });
        return writer.WriteAsync(streamId, TtrpcMessageType.Response, 0, TtrpcResponseEncoding.Size(status, payload), (status, payload),
            static (output, r) => TtrpcResponseEncoding.Write(output, r.status, r.payload), CancellationToken.None, payload.Trailing).AsTask();
    }

    private static byte[] Expected(byte[] data) =>
        new Response { Status = new KataSharp.Protocol.Rpc.Status(), Payload = new ReadOutputResponse { Data = ByteString.CopyFrom(data) }.ToByteString() }.ToByteArray();

    private static byte[] RandomBytes(int count)
    {
        var data = new byte[count];
        Random.Shared.NextBytes(data);
        return data;
    }

    /// <summary>Bytes in memory; moving them writes them straight onto the transport, as a splice would.</summary>
    private sealed class MemorySource(byte[] bytes, bool movable) : ITtrpcBytesSource
    {
        public bool FailMove { get; init; }

        public int Moved { get; private set; }

        public int Copied { get; private set; }

        public int Disposals { get; private set; }

        public int Length => bytes.Length;

        public bool CanMoveTo(Stream transport) => movable;

        public void MoveTo(Stream transport)
        {
            Moved++;
            if (FailMove)
            {
                throw new IOException("the device took none of it");
            }

            transport.Write(bytes);
        }

        public void CopyTo(IBufferWriter<byte> output)
        {
            Copied++;
            output.Write(bytes);
        }

        public void Dispose() => Disposals++;
    }

    private sealed class TrailingAgent(MemorySource source) : AgentApi.AgentBase
    {
        public override Task<ReadOutputResponse> ReadOutput(ReadOutputRequest request, ServerCallContext context) =>
            Task.FromResult(new ReadOutputResponse { TrailingData = source });
    }
}

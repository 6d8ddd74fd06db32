using System.Buffers;
using System.IO.Pipelines;
using Google.Protobuf;
using KataSharp.Protocol.Agent.V1;
using KataSharp.Protocol.Ttrpc;
using KataSharp.Protocol.Ttrpc.Wire;

namespace KataSharp.Tests.Unit.Protocol;

/// <summary>
/// The server encodes its Response around the handler's payload in place; the bytes must be exactly what
/// the generated Response encodes, or containerd's (and our own) ttrpc clients would misread them.
/// </summary>
public sealed class TtrpcResponseEncodingTests
{
    public static TheoryData<int, string, int> Cases => new()
    {
        { 0, "", 0 },
        { 0, "", 1 },
        { 0, "", 127 },
        { 0, "", 128 },
        { 0, "", 16_383 },
        { 0, "", 16_384 },
        { 0, "", 1024 * 1024 },
        { 5, "container c1 not found", 0 },
        { 8, new string('x', 300), 0 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void MessagePayloadEncodesAsTheGeneratedResponse(int code, string message, int dataBytes)
    {
        var data = new byte[dataBytes];
        Random.Shared.NextBytes(data);
        var answer = new ReadOutputResponse { Data = ByteString.CopyFrom(data), Eof = dataBytes % 2 == 0 };
        var status = new KataSharp.Protocol.Rpc.Status { Code = code, Message = message };
        var payload = code == 0 ? TtrpcPayload.Of(answer) : default;
        var expected = new Response { Status = status, Payload = code == 0 ? answer.ToByteString() : ByteString.Empty }.ToByteArray();

        var output = new ArrayBufferWriter<byte>();
        TtrpcResponseEncoding.Write(output, status, payload);

        Assert.Equal(expected.Length, TtrpcResponseEncoding.Size(status, payload));
        Assert.Equal(expected, output.WrittenSpan.ToArray());
    }

    [Fact]
    public void BytePayloadIsWrittenAsItIs()
    {
        var bytes = new byte[] { 1, 2, 3 };
        var output = new ArrayBufferWriter<byte>();
        TtrpcResponseEncoding.Write(output, new KataSharp.Protocol.Rpc.Status(), TtrpcPayload.Of(bytes));
        Assert.Equal(new Response { Status = new KataSharp.Protocol.Rpc.Status(), Payload = ByteString.CopyFrom(bytes) }.ToByteArray(), output.WrittenSpan.ToArray());
    }

    [Fact]
    public async Task PayloadThatWritesOtherThanItsLengthClosesTheConnectionInsteadOfTearingIt()
    {
        var pipe = new Pipe();
        var writer = new TtrpcFrameWriter(pipe.Writer);
        var torn = await Assert.ThrowsAsync<IOException>(async () =>
            await writer.WriteAsync(1, TtrpcMessageType.Response, 0, 10, 0, static (output, _) => output.Write(new byte[7]), CancellationToken.None));
        Assert.Contains("announced length", torn.Message);
        // Nothing of the frame reaches the peer, which sees the transport fail instead; no further frame goes out.
        await Assert.ThrowsAsync<IOException>(async () => await pipe.Reader.ReadAsync());
        await Assert.ThrowsAsync<IOException>(async () => await writer.WriteAsync(3, TtrpcMessageType.Response, 0, ReadOnlyMemory<byte>.Empty, CancellationToken.None));
    }
}

using System.Buffers;
using System.IO.Pipelines;
using Google.Protobuf;
using Grpc.Core;
using KataSharp.Protocol.Ttrpc;
using KataSharp.Protocol.Ttrpc.Wire;

namespace KataSharp.Tests.Unit.Protocol;

/// <summary>The short data path: messages serialised straight into the pipe and parsed straight out of it.</summary>
public sealed class TtrpcParsedFrameTests
{
    private static Request EchoRequest(int payloadBytes) => new()
    {
        Service = "test.Echo",
        Method = "Echo",
        Payload = ByteString.CopyFrom(Enumerable.Range(0, payloadBytes).Select(i => (byte)i).ToArray()),
    };

    [Fact]
    public async Task MessageWrittenIntoThePipe_IsFramedAsItsEncoding_AndParsesBack()
    {
        // Nobody reads while the frame is written: the pipe must not pause the writer.
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0));
        var writer = new TtrpcFrameWriter(pipe.Writer);
        var request = EchoRequest(100_000);
        await writer.WriteAsync(5, TtrpcMessageType.Request, 0, request, CancellationToken.None);
        await writer.DisposeAsync();

        ReadResult read;
        while (!(read = await pipe.Reader.ReadAsync()).IsCompleted)
        {
            pipe.Reader.AdvanceTo(read.Buffer.Start, read.Buffer.End);
        }

        var raw = read.Buffer;
        var bytes = raw.ToArray();
        pipe.Reader.AdvanceTo(raw.End);
        Assert.Equal(new TtrpcFrameHeader((uint)request.CalculateSize(), 5, TtrpcMessageType.Request, 0), TtrpcFrameHeader.Read(bytes));
        Assert.Equal(request.ToByteArray(), bytes[TtrpcFrameHeader.Size..]);

        var echo = new Pipe(new PipeOptions(pauseWriterThreshold: 0));
        await echo.Writer.WriteAsync(bytes);
        await echo.Writer.CompleteAsync();
        var frame = await new TtrpcFrameReader(echo.Reader).ReadAsync(TtrpcMessageType.Request, Request.Parser, CancellationToken.None);
        Assert.NotNull(frame);
        Assert.Equal(request, frame.Message);
        Assert.Null(frame.Malformed);
    }

    [Fact]
    public async Task ParsedMessage_OwnsItsBytes_AfterThePipeMemoryIsReused()
    {
        var pipe = new Pipe();
        var reader = new TtrpcFrameReader(pipe.Reader);
        var writer = new TtrpcFrameWriter(pipe.Writer);
        var first = EchoRequest(4096);
        await writer.WriteAsync(1, TtrpcMessageType.Request, 0, first, CancellationToken.None);
        var parsed = await reader.ReadAsync(TtrpcMessageType.Request, Request.Parser, CancellationToken.None);

        // The released segments go back to the pool and are overwritten by the next frames.
        for (uint id = 3; id < 40; id += 2)
        {
            await writer.WriteAsync(id, TtrpcMessageType.Request, 0, new Request { Service = "x", Payload = ByteString.CopyFrom(new byte[4096]) }, CancellationToken.None);
            Assert.NotNull(await reader.ReadAsync(TtrpcMessageType.Request, Request.Parser, CancellationToken.None));
        }

        Assert.Equal(first, parsed?.Message);
    }

    [Fact]
    public async Task OversizedMessage_IsRefusedBeforeAnyByteIsWritten()
    {
        var pipe = new Pipe();
        var writer = new TtrpcFrameWriter(pipe.Writer);
        var error = await Assert.ThrowsAsync<RpcException>(() =>
            writer.WriteAsync(1, TtrpcMessageType.Request, 0, EchoRequest(TtrpcFrameHeader.MaxPayload), CancellationToken.None).AsTask());
        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);

        await writer.WriteAsync(3, TtrpcMessageType.Request, 0, EchoRequest(1), CancellationToken.None);
        await writer.DisposeAsync();
        var frame = await new TtrpcFrameReader(pipe.Reader).ReadAsync(TtrpcMessageType.Request, Request.Parser, CancellationToken.None);
        Assert.Equal(3u, frame?.Header.StreamId);
    }

    [Fact]
    public async Task MalformedFrame_IsReported_OtherTypesAreNotParsed_AndTheNextFrameStillParses()
    {
        var pipe = new Pipe();
        var writer = new TtrpcFrameWriter(pipe.Writer);
        await writer.WriteAsync(1, TtrpcMessageType.Request, 0, new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0x0F }, CancellationToken.None);
        await writer.WriteAsync(2, TtrpcMessageType.Data, 0, new byte[] { 0xFF }, CancellationToken.None);
        await writer.WriteAsync(3, TtrpcMessageType.Request, 0, EchoRequest(3), CancellationToken.None);
        await writer.DisposeAsync();

        var reader = new TtrpcFrameReader(pipe.Reader);
        var malformed = await reader.ReadAsync(TtrpcMessageType.Request, Request.Parser, CancellationToken.None);
        Assert.NotNull(malformed?.Malformed);
        Assert.Null(malformed.Message);
        var data = await reader.ReadAsync(TtrpcMessageType.Request, Request.Parser, CancellationToken.None);
        Assert.Equal(TtrpcMessageType.Data, data?.Header.Type);
        Assert.Null(data?.Message);
        Assert.Null(data?.Malformed);
        var good = await reader.ReadAsync(TtrpcMessageType.Request, Request.Parser, CancellationToken.None);
        Assert.Equal(EchoRequest(3), good?.Message);
        Assert.Null(await reader.ReadAsync(TtrpcMessageType.Request, Request.Parser, CancellationToken.None));
    }

    [Fact]
    public void HeaderTornAcrossSegments_ReadsAsOne()
    {
        var bytes = new byte[TtrpcFrameHeader.Size];
        var header = new TtrpcFrameHeader(0x01020304, 0x0A0B0C0D, TtrpcMessageType.Response, 0x04);
        header.Write(bytes);
        var first = new Segment(bytes.AsMemory(0, 3), 0);
        var last = first.Append(bytes.AsMemory(3));
        Assert.Equal(header, TtrpcFrameHeader.Read(new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length)));
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}

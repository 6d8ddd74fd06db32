using System.IO.Pipelines;
using KataSharp.Protocol.Ttrpc;

namespace KataSharp.Tests.Unit.Protocol;

public sealed class TtrpcFrameReaderTests
{
    private static byte[] Frame(uint streamId, TtrpcMessageType type, byte[] payload, uint? declaredLength = null)
    {
        var bytes = new byte[TtrpcFrameHeader.Size + payload.Length];
        new TtrpcFrameHeader(declaredLength ?? (uint)payload.Length, streamId, type, 0).Write(bytes);
        payload.CopyTo(bytes, TtrpcFrameHeader.Size);
        return bytes;
    }

    [Fact]
    public void Header_IsBigEndianTenBytes()
    {
        var bytes = new byte[10];
        new TtrpcFrameHeader(0x01020304, 0x0A0B0C0D, TtrpcMessageType.Response, 0x04).Write(bytes);
        Assert.Equal(new byte[] { 1, 2, 3, 4, 0x0A, 0x0B, 0x0C, 0x0D, 2, 4 }, bytes);
        Assert.Equal(new TtrpcFrameHeader(0x01020304, 0x0A0B0C0D, TtrpcMessageType.Response, 0x04), TtrpcFrameHeader.Read(bytes));
    }

    [Fact]
    public async Task FrameSplitAcrossReads_IsReassembled()
    {
        var pipe = new Pipe();
        var reader = new TtrpcFrameReader(pipe.Reader);
        var payload = Enumerable.Range(0, 300).Select(i => (byte)i).ToArray();
        var frame = Frame(7, TtrpcMessageType.Request, payload);

        var read = reader.ReadAsync(CancellationToken.None).AsTask();
        foreach (var b in frame)
        {
            Assert.False(read.IsCompleted, "a partial frame must not be returned");
            await pipe.Writer.WriteAsync(new[] { b });
        }

        var result = await read.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.NotNull(result);
        Assert.Equal(7u, result.Header.StreamId);
        Assert.Equal(payload, result.Payload);
    }

    [Fact]
    public async Task SeveralFramesInOneRead_AreAllReturnedInOrder()
    {
        var pipe = new Pipe();
        var reader = new TtrpcFrameReader(pipe.Reader);
        var all = Frame(1, TtrpcMessageType.Request, [1])
            .Concat(Frame(3, TtrpcMessageType.Request, [2, 2]))
            .Concat(Frame(5, TtrpcMessageType.Request, []))
            .ToArray();
        await pipe.Writer.WriteAsync(all);
        await pipe.Writer.CompleteAsync();

        var ids = new List<uint>();
        var payloads = new List<byte[]>();
        while (await reader.ReadAsync(CancellationToken.None) is { } frame)
        {
            ids.Add(frame.Header.StreamId);
            payloads.Add(frame.Payload);
        }

        Assert.Equal([1u, 3u, 5u], ids);
        Assert.Equal([[1], [2, 2], []], payloads);
    }

    [Fact]
    public async Task OversizedFrame_IsSkippedAndReported_AndTheNextFrameStillParses()
    {
        var pipe = new Pipe();
        var reader = new TtrpcFrameReader(pipe.Reader, maxPayload: 16);
        await pipe.Writer.WriteAsync(Frame(1, TtrpcMessageType.Request, new byte[40]));
        await pipe.Writer.WriteAsync(Frame(3, TtrpcMessageType.Request, [9]));
        await pipe.Writer.CompleteAsync();

        var first = await reader.ReadAsync(CancellationToken.None);
        Assert.NotNull(first);
        Assert.True(first.Oversized);
        Assert.Equal(40u, first.Header.Length);
        var second = await reader.ReadAsync(CancellationToken.None);
        Assert.NotNull(second);
        Assert.False(second.Oversized);
        Assert.Equal(new byte[] { 9 }, second.Payload);
    }

    [Fact]
    public async Task StreamEndingMidFrame_Throws()
    {
        var pipe = new Pipe();
        var reader = new TtrpcFrameReader(pipe.Reader);
        await pipe.Writer.WriteAsync(Frame(1, TtrpcMessageType.Request, new byte[10]).AsMemory(0, 14));
        await pipe.Writer.CompleteAsync();
        await Assert.ThrowsAsync<EndOfStreamException>(() => reader.ReadAsync(CancellationToken.None).AsTask());
    }
}

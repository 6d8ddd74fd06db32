using System.Text;
using KataSharp.Agent.Processes;
using Xunit;

namespace KataSharp.Tests.Unit.Agent;

public sealed class OutputBufferTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Fact]
    public async Task BytesComeOutInOrderAcrossTheRingsWrapAround()
    {
        var buffer = new OutputBuffer(8);
        var expected = new List<byte>();
        var actual = new List<byte>();
        byte next = 0;
        for (var round = 0; round < 50; round++)
        {
            var n = Math.Min(buffer.WaitForSpace(0), 1 + (round % 5));
            var chunk = Enumerable.Range(0, n).Select(_ => next++).ToArray();
            buffer.Append(chunk);
            expected.AddRange(chunk);
            actual.AddRange((await buffer.ReadAsync(1 + (round % 3), None)).Data);
        }

        buffer.Complete();
        while (await buffer.ReadAsync(3, None) is { EndOfStream: false } chunk)
        {
            actual.AddRange(chunk.Data);
        }

        Assert.Equal(expected, actual);
    }

    [Fact]
    public async Task EndOfStreamComesOnlyAfterEveryByteWasRead()
    {
        var buffer = new OutputBuffer(64);
        buffer.Append("0123456789"u8);
        buffer.Complete();

        var first = await buffer.ReadAsync(4, None);
        var second = await buffer.ReadAsync(100, None);
        var third = await buffer.ReadAsync(100, None);
        var again = await buffer.ReadAsync(100, None);

        Assert.Equal(("0123", false), (Encoding.ASCII.GetString(first.Data), first.EndOfStream));
        Assert.Equal(("456789", false), (Encoding.ASCII.GetString(second.Data), second.EndOfStream));
        Assert.Equal((0, true), (third.Data.Length, third.EndOfStream));
        Assert.True(again.EndOfStream);
    }

    [Fact]
    public void ProducerMayNeverAppendBeyondTheCapacity()
    {
        var buffer = new OutputBuffer(8);

        Assert.Equal(8, buffer.WaitForSpace(0));
        buffer.Append(new byte[8]);
        Assert.Equal(0, buffer.WaitForSpace(10));
        Assert.Throws<InvalidOperationException>(() => buffer.Append(new byte[1]));
        Assert.Equal(8, buffer.Count);
    }

    [Fact]
    public async Task ReadingFreesSpaceAndWakesAWaitingProducer()
    {
        var buffer = new OutputBuffer(8);
        buffer.Append(new byte[8]);

        var producer = Task.Run(() => buffer.WaitForSpace(10_000));
        await Task.Delay(50);
        Assert.False(producer.IsCompleted);
        await buffer.ReadAsync(3, None);

        Assert.Equal(3, await producer.WaitAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task ReadWaitsForDataOrTheEnd()
    {
        var buffer = new OutputBuffer(16);
        var read = buffer.ReadAsync(16, None);
        Assert.False(read.IsCompleted);

        buffer.Append("hi"u8);
        Assert.Equal("hi", Encoding.ASCII.GetString((await read.WaitAsync(TimeSpan.FromSeconds(5))).Data));

        var atEnd = buffer.ReadAsync(16, None);
        Assert.False(atEnd.IsCompleted);
        buffer.Complete();
        Assert.True((await atEnd.WaitAsync(TimeSpan.FromSeconds(5))).EndOfStream);
    }

    [Fact]
    public async Task WaitingReadIsCancellable()
    {
        var buffer = new OutputBuffer(16);
        using var cancel = new CancellationTokenSource();
        var read = buffer.ReadAsync(16, cancel.Token);

        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => read);
        buffer.Append("x"u8);
        Assert.Equal("x", Encoding.ASCII.GetString((await buffer.ReadAsync(16, None)).Data));
    }

    [Fact]
    public async Task DiscardingBufferSwallowsEverythingAndNeverBlocksTheProducer()
    {
        var buffer = new OutputBuffer(4, discard: true);

        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(4, buffer.WaitForSpace(0));
            buffer.Append(new byte[4]);
        }

        Assert.Equal(0, buffer.Count);
        Assert.True((await buffer.ReadAsync(16, None)).EndOfStream);
    }

    [Fact]
    public async Task AbandonEndsReadersAndReleasesTheProducer()
    {
        var buffer = new OutputBuffer(4);
        buffer.Append(new byte[4]);
        var producer = Task.Run(() => buffer.WaitForSpace(10_000));

        buffer.Abandon();

        Assert.Equal(4, await producer.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.True((await buffer.ReadAsync(16, None)).EndOfStream);
    }

    [Fact]
    public async Task ManyMegabytesThroughASmallBufferArriveIntact()
    {
        var buffer = new OutputBuffer(64 * 1024);
        var payload = new byte[8 * 1024 * 1024];
        new Random(42).NextBytes(payload);
        var producer = Task.Run(() =>
        {
            var offset = 0;
            while (offset < payload.Length)
            {
                var n = Math.Min(buffer.WaitForSpace(1000), Math.Min(payload.Length - offset, 10_000));
                buffer.Append(payload.AsSpan(offset, n));
                offset += n;
                Assert.True(buffer.Count <= buffer.Capacity);
            }

            buffer.Complete();
        });

        var received = new MemoryStream();
        while (await buffer.ReadAsync(7_777, None) is { EndOfStream: false } chunk)
        {
            received.Write(chunk.Data);
        }

        await producer;
        Assert.Equal(payload, received.ToArray());
    }
}

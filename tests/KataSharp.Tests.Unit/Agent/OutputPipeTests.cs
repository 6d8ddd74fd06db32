using System.Text;
using KataSharp.Agent.Processes;
using Xunit;

namespace KataSharp.Tests.Unit.Agent;

public sealed class OutputPipeTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Fact]
    public async Task BytesComeOutInOrderAcrossManySmallWritesAndReads()
    {
        // Room for everything written here (at most 150 bytes), so the producer never waits in this single-threaded test.
        var output = new OutputPipe(pauseBytes: 4096);
        var expected = new List<byte>();
        var actual = new List<byte>();
        byte next = 0;
        for (var round = 0; round < 50; round++)
        {
            var chunk = Enumerable.Range(0, 1 + (round % 5)).Select(_ => next++).ToArray();
            Write(output, chunk);
            expected.AddRange(chunk);
            actual.AddRange((await output.ReadAsync(1 + (round % 3), None)).Data);
        }

        output.Complete();
        while (await output.ReadAsync(3, None) is { EndOfStream: false } chunk)
        {
            actual.AddRange(chunk.Data);
        }

        Assert.Equal(expected, actual);
    }

    [Fact]
    public async Task EndOfStreamComesOnlyAfterEveryByteWasRead()
    {
        var output = new OutputPipe(pauseBytes: 64);
        Write(output, "0123456789"u8);
        output.Complete();

        var first = await output.ReadAsync(4, None);
        var second = await output.ReadAsync(100, None);
        var third = await output.ReadAsync(100, None);
        var again = await output.ReadAsync(100, None);

        Assert.Equal(("0123", false), (Encoding.ASCII.GetString(first.Data), first.EndOfStream));
        Assert.Equal(("456789", false), (Encoding.ASCII.GetString(second.Data), second.EndOfStream));
        Assert.Equal((0, true), (third.Data.Length, third.EndOfStream));
        Assert.True(again.EndOfStream);
    }

    [Fact]
    public async Task ProducerBlocksOnceTheReaderIsTheBoundBehind_AndReadingReleasesIt()
    {
        var output = new OutputPipe(pauseBytes: 8);
        var producer = Task.Run(() => Write(output, new byte[8]));

        // A producer that never blocked would finish at once; this one waits for the reader.
        await Task.WhenAny(producer, Task.Delay(200));
        Assert.False(producer.IsCompleted);
        var read = await output.ReadAsync(8, None);

        Assert.Equal(8, read.Data.Length);
        await producer.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task ReadWaitsForDataOrTheEnd()
    {
        var output = new OutputPipe(pauseBytes: 16);
        var read = output.ReadAsync(16, None);
        Assert.False(read.IsCompleted);

        Write(output, "hi"u8);
        Assert.Equal("hi", Encoding.ASCII.GetString((await read.WaitAsync(TimeSpan.FromSeconds(5))).Data));

        var atEnd = output.ReadAsync(16, None);
        Assert.False(atEnd.IsCompleted);
        output.Complete();
        Assert.True((await atEnd.WaitAsync(TimeSpan.FromSeconds(5))).EndOfStream);
    }

    [Fact]
    public async Task WaitingReadIsCancellable()
    {
        var output = new OutputPipe(pauseBytes: 16);
        using var cancel = new CancellationTokenSource();
        var read = output.ReadAsync(16, cancel.Token);

        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => read);
        Write(output, "x"u8);
        Assert.Equal("x", Encoding.ASCII.GetString((await output.ReadAsync(16, None)).Data));
    }

    [Fact]
    public async Task ConcurrentReadsTakeTurnsAndLoseNothing()
    {
        var output = new OutputPipe(pauseBytes: 64);
        var first = output.ReadAsync(3, None);
        var second = output.ReadAsync(3, None);
        Write(output, "abcdef"u8);

        var both = await Task.WhenAll(first, second).WaitAsync(TimeSpan.FromSeconds(5));

        Assert.Equal("abcdef", string.Concat(both.Select(c => Encoding.ASCII.GetString(c.Data)).Order()));
    }

    [Fact]
    public async Task DiscardingPipeSwallowsEverythingAndNeverBlocksTheProducer()
    {
        var output = new OutputPipe(discard: true, pauseBytes: 4);

        var producer = Task.Run(() =>
        {
            for (var i = 0; i < 100; i++)
            {
                Write(output, new byte[4]);
            }
        });

        await producer.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True((await output.ReadAsync(16, None)).EndOfStream);
    }

    [Fact]
    public async Task AbandonEndsReadersAndReleasesTheProducer()
    {
        var output = new OutputPipe(pauseBytes: 4);
        var producer = Task.Run(() =>
        {
            // The first write fills the pipe and blocks; after Abandon, every write goes through.
            for (var i = 0; i < 10; i++)
            {
                Write(output, new byte[4]);
            }
        });
        await Task.WhenAny(producer, Task.Delay(200));
        Assert.False(producer.IsCompleted);

        output.Abandon();

        await producer.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(output.IsDiscarding);
        Assert.True((await output.ReadAsync(16, None)).EndOfStream);
    }

    [Fact]
    public async Task AbandonWakesAWaitingReaderWithTheEnd()
    {
        var output = new OutputPipe(pauseBytes: 16);
        var read = output.ReadAsync(16, None);

        output.Abandon();

        Assert.True((await read.WaitAsync(TimeSpan.FromSeconds(5))).EndOfStream);
    }

    [Fact]
    public async Task ManyMegabytesThroughASmallPipeArriveIntact()
    {
        var output = new OutputPipe(pauseBytes: 64 * 1024);
        var payload = new byte[8 * 1024 * 1024];
        new Random(42).NextBytes(payload);
        var producer = Task.Run(() =>
        {
            var offset = 0;
            while (offset < payload.Length)
            {
                var n = Math.Min(payload.Length - offset, 10_000);
                Write(output, payload.AsSpan(offset, n));
                offset += n;
            }

            output.Complete();
        });

        var received = new MemoryStream();
        while (await output.ReadAsync(7_777, None) is { EndOfStream: false } chunk)
        {
            received.Write(chunk.Data);
        }

        await producer;
        Assert.Equal(payload, received.ToArray());
    }

    [Fact]
    public async Task ReadsStartSmallAndGrowWhileTheyFillWhatTheyGet()
    {
        // Room for all of it unread, so the single-threaded producer never waits.
        var output = new OutputPipe(pauseBytes: 16 * OutputPipe.KernelPipeBytes);
        var first = output.GetMemory().Length;
        Assert.InRange(first, 1, 64 * 1024);

        var given = first;
        for (var i = 0; i < 8; i++)
        {
            output.Commit(given);
            given = output.GetMemory().Length;
        }

        // A stream in full flow is read a whole kernel pipe at a time.
        Assert.True(given >= OutputPipe.KernelPipeBytes, $"after 8 full reads a read gets {given} bytes");

        output.Commit(0);
        output.Complete();
        long total = 0;
        while (await output.ReadAsync(OutputPipe.KernelPipeBytes, None) is { EndOfStream: false } chunk)
        {
            total += chunk.Data.Length;
        }

        Assert.True(total > 8L * first);
    }

    /// <summary>What the pump does with one read from the fd.</summary>
    private static void Write(OutputPipe output, ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            var memory = output.GetMemory();
            var n = Math.Min(memory.Length, data.Length);
            data[..n].CopyTo(memory.Span);
            output.Commit(n);
            data = data[n..];
        }
    }
}

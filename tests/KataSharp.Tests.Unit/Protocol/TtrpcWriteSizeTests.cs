using System.Collections.Concurrent;
using System.Net.Sockets;
using KataSharp.Protocol.Ttrpc;

namespace KataSharp.Tests.Unit.Protocol;

/// <summary>
/// How a big answer reaches the transport. Over virtio-serial every write is one buffer the guest kicks to
/// QEMU (a VM exit, expensive under TCG), and the guest driver takes at most 32 KiB per write, so an answer
/// cut into small writes costs one kick per piece: container stdout ran at a few MiB/s that way.
/// </summary>
public sealed class TtrpcWriteSizeTests
{
    private const int ChannelWriteBytes = 32 * 1024;

    [Fact]
    public async Task BigAnswerGoesOutInWritesOfAtLeastTheChannelsLargest()
    {
        var answer = new byte[1024 * 1024];
        Random.Shared.NextBytes(answer);
        var registry = new TtrpcServiceRegistry();
        registry.Add("test.Bulk", "Read", (_, _) => Task.FromResult(answer));
        var (serverSide, clientSide) = await ConnectedPairAsync();
        var recorded = new WriteRecordingStream(serverSide);
        using var stop = new CancellationTokenSource();
        var serving = new TtrpcServer(registry).ServeAsync(recorded, "test", stop.Token);
        await using (var client = new TtrpcClient(clientSide))
        {
            var received = await client.CallAsync("test.Bulk", "Read", Array.Empty<byte>()).WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(answer, received);
        }

        stop.Cancel();
        await serving.WaitAsync(TimeSpan.FromSeconds(10));
        var writes = recorded.Writes.ToArray();
        Assert.True(writes.Sum() > answer.Length);
        // Every write but the last of the answer carries at least what one virtio-serial buffer holds.
        var small = writes[..^1].Count(size => size < ChannelWriteBytes);
        Assert.True(small == 0, $"{small} of {writes.Length} writes were under {ChannelWriteBytes} bytes (first sizes: {string.Join(",", writes.Take(8))})");
    }

    [Fact]
    public async Task SmallAnswersStillGoOutOneFramePerFlush()
    {
        var registry = new TtrpcServiceRegistry();
        registry.Add("test.Bulk", "Echo", (payload, _) => Task.FromResult(payload));
        var (serverSide, clientSide) = await ConnectedPairAsync();
        var recorded = new WriteRecordingStream(serverSide);
        using var stop = new CancellationTokenSource();
        var serving = new TtrpcServer(registry).ServeAsync(recorded, "test", stop.Token);
        await using (var client = new TtrpcClient(clientSide))
        {
            for (var i = 0; i < 3; i++)
            {
                // Each answer arrives on its own: nothing waits for a buffer to fill.
                var received = await client.CallAsync("test.Bulk", "Echo", new byte[] { (byte)i }).WaitAsync(TimeSpan.FromSeconds(30));
                Assert.Equal([(byte)i], received);
            }
        }

        stop.Cancel();
        await serving.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(3, recorded.Writes.Count);
    }

    private static async Task<(Stream Server, Stream Client)> ConnectedPairAsync()
    {
        var (server, client) = await UnixSocketPair.ConnectAsync();
        return (new NetworkStream(server, ownsSocket: true), new NetworkStream(client, ownsSocket: true));
    }

    /// <summary>Passes everything through and notes the size of every write that reaches it.</summary>
    private sealed class WriteRecordingStream(Stream inner) : Stream
    {
        public ConcurrentQueue<int> Writes { get; } = new();

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            inner.ReadAsync(buffer, cancellationToken);

        public override void Write(byte[] buffer, int offset, int count)
        {
            Writes.Enqueue(count);
            inner.Write(buffer, offset, count);
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Writes.Enqueue(buffer.Length);
            return inner.WriteAsync(buffer, cancellationToken);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush() => inner.Flush();

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}

using KataSharp.Cli.Console;

namespace KataSharp.Tests.Unit.Cli;

public sealed class TeeStreamTests
{
    [Fact]
    public async Task StdoutAndStderrNeverWriteTheSharedLogAtOnce()
    {
        var log = new OverlapDetectingStream();
        var stdout = new TeeStream(Stream.Null, log);
        var stderr = new TeeStream(Stream.Null, log);
        var chunk = new byte[64];

        async Task Pump(Stream stream, bool sync)
        {
            await Task.Yield();
            for (var i = 0; i < 2000; i++)
            {
                if (sync)
                {
                    stream.Write(chunk);
                }
                else
                {
                    await stream.WriteAsync(chunk);
                }
            }
        }

        await Task.WhenAll(Task.Run(() => Pump(stdout, sync: false)), Task.Run(() => Pump(stderr, sync: false)), Task.Run(() => Pump(stderr, sync: true)));

        Assert.False(log.Overlapped);
        Assert.Equal(3 * 2000 * chunk.Length, log.Written);
    }

    [Fact]
    public void ItIsWriteOnly()
    {
        using var tee = new TeeStream(Stream.Null, Stream.Null);
        Assert.False(tee.CanRead);
        Assert.Throws<NotSupportedException>(() => tee.Read(new byte[1], 0, 1));
        Assert.Throws<NotSupportedException>(() => tee.Seek(0, SeekOrigin.Begin));
    }

    /// <summary>A log that records whether two writers were ever inside it together.</summary>
    private sealed class OverlapDetectingStream : Stream
    {
        private int _inside;

        public bool Overlapped { get; private set; }

        public long Written { get; private set; }

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => Written;
        public override long Position { get => Written; set => throw new NotSupportedException(); }

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            if (Interlocked.Increment(ref _inside) > 1)
            {
                Overlapped = true;
            }

            Thread.SpinWait(200);
            Written += buffer.Length;
            Interlocked.Decrement(ref _inside);
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}

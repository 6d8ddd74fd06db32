using System.Text;
using KataSharp.Protocol.Agent.V1;
using KataSharp.Runtime.Stdio;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace KataSharp.Tests.Unit.Runtime;

public sealed class StdioBridgeTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task OutputIsDeliveredInOrderAndTheDestinationClosedBeforeOutputDone()
    {
        var process = new FakeProcess { Stdout = ["one ", "two ", "three"], Stderr = ["err"] };
        var stdout = new RecordingStream();
        var stderr = new RecordingStream();
        await using var bridge = new StdioBridge(process, NullLogger.Instance);

        bridge.Start(stdout, stderr, terminal: false, openStdin: null);
        await bridge.OutputDone.WaitAsync(Guard);

        Assert.Equal("one two three", stdout.Text);
        Assert.Equal("err", stderr.Text);
        Assert.True(stdout.Disposed && stderr.Disposed, "EOF reaches the reader (a FIFO's close) before OutputDone");
        Assert.NotEqual(0, bridge.FirstOutputTicks);
    }

    [Fact]
    public async Task ATerminalHasNoStderrToRead()
    {
        var process = new FakeProcess { Stdout = ["tty"] };
        var stderr = new RecordingStream();
        await using var bridge = new StdioBridge(process, NullLogger.Instance);

        bridge.Start(new RecordingStream(), stderr, terminal: true, openStdin: null);
        await bridge.OutputDone.WaitAsync(Guard);

        Assert.DoesNotContain(OutputStream.Stderr, process.Pumped);
        Assert.True(stderr.Disposed);
    }

    [Fact]
    public async Task ADestinationNobodyReadsStallsOnlyItsOwnStream_AndStopsReadingTheGuestWithinTheBound()
    {
        var process = new FakeProcess { EndlessStdout = true, Stderr = ["still ", "flowing"] };
        var stuck = new StuckStream();
        var stderr = new RecordingStream();
        var bridge = new StdioBridge(process, NullLogger.Instance);

        bridge.Start(stuck, stderr, terminal: false, openStdin: null);

        // The other stream of the same process is delivered in full while stdout's reader is gone.
        await stderr.Closed.WaitAsync(Guard);
        Assert.Equal("still flowing", stderr.Text);

        // stdout stops taking from the guest: what it took is bounded by the lane (and one chunk in flight).
        await stuck.Entered.WaitAsync(Guard);
        await process.StdoutBlocked.WaitAsync(Guard);
        Assert.InRange(process.StdoutBytes, 1, OutputLane.PauseBytes + (2 * FakeProcess.Chunk));
        Assert.False(bridge.OutputDone.IsCompleted);

        // Teardown releases the stuck writer (a FIFO's write is cancellable) and ends the lane.
        stuck.Release();
        await bridge.DisposeAsync();
        await bridge.OutputDone.WaitAsync(Guard);
    }

    [Fact]
    public async Task StdinIsForwardedAndCloseStdinWaitsForTheCopyFirst()
    {
        var process = new FakeProcess();
        await using var bridge = new StdioBridge(process, NullLogger.Instance);

        bridge.Start(null, null, terminal: false, openStdin: () => new MemoryStream("typed"u8.ToArray()));
        await bridge.CloseStdinAsync(Guard, CancellationToken.None);

        Assert.Equal("typed", process.StdinText);
        Assert.False(process.StdinClosedByHost, "a copy that finished closes stdin itself, at its EOF");
    }

    [Fact]
    public async Task CloseStdinClosesItInTheGuestWhenTheCopyDoesNotFinish_AndOutputKeepsFlowing()
    {
        var process = new FakeProcess { Stdout = ["after close"] , HoldStdout = true };
        var stdout = new RecordingStream();
        await using var bridge = new StdioBridge(process, NullLogger.Instance);
        var neverEnds = new StuckStream();

        bridge.Start(stdout, null, terminal: false, openStdin: () => neverEnds);
        await bridge.CloseStdinAsync(TimeSpan.FromMilliseconds(50), CancellationToken.None);
        Assert.True(process.StdinClosedByHost);

        process.ReleaseStdout();
        await bridge.OutputDone.WaitAsync(Guard);
        Assert.Equal("after close", stdout.Text);
        neverEnds.Release();
    }

    private sealed class FakeProcess : IProcessStdio
    {
        public const int Chunk = 64 * 1024;

        private readonly TaskCompletionSource _stdoutHeld = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _stdoutBlocked = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private long _stdoutBytes;

        public string[] Stdout { get; init; } = [];

        public string[] Stderr { get; init; } = [];

        public bool EndlessStdout { get; init; }

        public bool HoldStdout { get; init; }

        public List<OutputStream> Pumped { get; } = [];

        public long StdoutBytes => Interlocked.Read(ref _stdoutBytes);

        /// <summary>Completes when a write of stdout into the bridge has not returned for a while: back-pressure.</summary>
        public Task StdoutBlocked => _stdoutBlocked.Task;

        public string StdinText { get; private set; } = "";

        public bool StdinClosedByHost { get; private set; }

        public string ContainerId => "c1";

        public string ExecId => "";

        public void ReleaseStdout() => _stdoutHeld.TrySetResult();

        public async Task PumpOutputAsync(OutputStream stream, Stream destination, CancellationToken cancellationToken)
        {
            lock (Pumped)
            {
                Pumped.Add(stream);
            }

            if (stream == OutputStream.Stdout && EndlessStdout)
            {
                var chunk = new byte[Chunk];
                while (true)
                {
                    var write = destination.WriteAsync(chunk, cancellationToken).AsTask();
                    if (await Task.WhenAny(write, Task.Delay(500, cancellationToken)) != write)
                    {
                        _stdoutBlocked.TrySetResult();
                    }

                    await write;
                    Interlocked.Add(ref _stdoutBytes, chunk.Length);
                }
            }

            if (stream == OutputStream.Stdout && HoldStdout)
            {
                await _stdoutHeld.Task.WaitAsync(cancellationToken);
            }

            foreach (var text in stream == OutputStream.Stdout ? Stdout : Stderr)
            {
                await destination.WriteAsync(Encoding.UTF8.GetBytes(text), cancellationToken);
            }
        }

        public async Task ForwardStdinAsync(Stream source, CancellationToken cancellationToken)
        {
            var copy = new MemoryStream();
            await source.CopyToAsync(copy, cancellationToken);
            StdinText = Encoding.UTF8.GetString(copy.ToArray());
        }

        public Task CloseStdinAsync(CancellationToken cancellationToken)
        {
            StdinClosedByHost = true;
            return Task.CompletedTask;
        }
    }

    private sealed class RecordingStream : MemoryStream
    {
        private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private string _text = "";

        public bool Disposed => _closed.Task.IsCompleted;

        public Task Closed => _closed.Task;

        public string Text => _closed.Task.IsCompleted ? _text : Encoding.UTF8.GetString(ToArray());

        protected override void Dispose(bool disposing)
        {
            if (disposing && !_closed.Task.IsCompleted)
            {
                _text = Encoding.UTF8.GetString(ToArray());
                _closed.TrySetResult();
            }

            base.Dispose(disposing);
        }
    }

    /// <summary>A reader that never reads: every write or read blocks until released.</summary>
    private sealed class StuckStream : Stream
    {
        private readonly ManualResetEventSlim _released = new();
        private readonly TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Entered => _entered.Task;

        public void Release() => _released.Set();

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Write(byte[] buffer, int offset, int count) => Block();

        public override void Write(ReadOnlySpan<byte> buffer) => Block();

        public override int Read(byte[] buffer, int offset, int count)
        {
            Block();
            return 0;
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            _entered.TrySetResult();
            await Task.Run(() => _released.Wait(cancellationToken), cancellationToken);
            return 0;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        private void Block()
        {
            _entered.TrySetResult();
            _released.Wait();
            throw new IOException("released");
        }
    }
}

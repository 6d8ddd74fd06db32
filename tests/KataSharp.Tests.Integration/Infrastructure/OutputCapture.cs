using System.Security.Cryptography;
using System.Text;
using KataSharp.Protocol.Agent.V1;
using KataSharp.Runtime.Sandbox;

namespace KataSharp.Tests.Integration.Infrastructure;

/// <summary>
/// Pumps a container process's stdout and stderr (through the runtime's own ReadOutput pump) into
/// memory, and lets a test wait until the output says something, bounded by a hang guard.
/// </summary>
public sealed class OutputCapture : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();

    private OutputCapture(ContainerProcess process)
    {
        Stdout = new CaptureStream();
        Stderr = new CaptureStream();
        StdoutDone = process.PumpOutputAsync(OutputStream.Stdout, Stdout, null, _stop.Token);
        StderrDone = process.Terminal ? Task.CompletedTask : process.PumpOutputAsync(OutputStream.Stderr, Stderr, null, _stop.Token);
    }

    public CaptureStream Stdout { get; }
    public CaptureStream Stderr { get; }

    /// <summary>Completes at stdout's EOF.</summary>
    public Task StdoutDone { get; }

    /// <summary>Completes at stderr's EOF (at once for a terminal, which has no stderr).</summary>
    public Task StderrDone { get; }

    public static OutputCapture Start(ContainerProcess process) => new(process);

    /// <summary>Waits for both streams to reach EOF.</summary>
    public Task DrainAsync() => Task.WhenAll(StdoutDone, StderrDone).WaitAsync(TestEnvironment.OperationTimeout);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await Task.WhenAll(StdoutDone, StderrDone).WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception)
        {
            // Pumps end with cancellation or a dropped connection at teardown.
        }

        _stop.Dispose();
    }

    /// <summary>A write-only stream that keeps everything written to it and wakes waiters.</summary>
    public sealed class CaptureStream : Stream
    {
        private readonly MemoryStream _buffer = new();
        private readonly IncrementalHash _sha256 = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        private readonly object _lock = new();
        private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private long _length;

        /// <summary>When false, bytes are hashed and counted but not kept (for big outputs).</summary>
        public bool Keep { get; set; } = true;

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => Interlocked.Read(ref _length);
        public override long Position { get => Length; set => throw new NotSupportedException(); }

        public byte[] Bytes
        {
            get
            {
                lock (_lock)
                {
                    return _buffer.ToArray();
                }
            }
        }

        public string Text => Encoding.UTF8.GetString(Bytes);

        /// <summary>The SHA-256 of every byte written so far, lower-case hex.</summary>
        public string Sha256Hex
        {
            get
            {
                lock (_lock)
                {
                    return Convert.ToHexStringLower(_sha256.GetCurrentHash());
                }
            }
        }

        /// <summary>Waits until the text so far satisfies <paramref name="condition"/>; fails after the hang guard with what did arrive.</summary>
        public async Task<string> WaitForAsync(Func<string, bool> condition, string what)
        {
            using var timeout = new CancellationTokenSource(TestEnvironment.OperationTimeout);
            while (true)
            {
                Task changed;
                lock (_lock)
                {
                    changed = _changed.Task;
                }

                var text = Text;
                if (condition(text))
                {
                    return text;
                }

                try
                {
                    await changed.WaitAsync(timeout.Token);
                }
                catch (OperationCanceledException)
                {
                    throw new TimeoutException($"no {what} within {TestEnvironment.OperationTimeout.TotalSeconds} s; output so far: '{Text}'");
                }
            }
        }

        public Task<string> WaitForAsync(string substring) => WaitForAsync(t => t.Contains(substring, StringComparison.Ordinal), $"'{substring}' in the output");

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            TaskCompletionSource changed;
            lock (_lock)
            {
                if (Keep)
                {
                    _buffer.Write(buffer);
                }

                _sha256.AppendData(buffer);
                _length += buffer.Length;
                changed = _changed;
                _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            changed.TrySetResult();
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            Write(buffer.AsSpan(offset, count));
            return Task.CompletedTask;
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Write(buffer.Span);
            return ValueTask.CompletedTask;
        }

        public override void Flush()
        {
        }

        public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _sha256.Dispose();
                _buffer.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}

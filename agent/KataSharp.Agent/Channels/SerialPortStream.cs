using System.Buffers;
using System.IO.Pipelines;
using KataSharp.Native;

namespace KataSharp.Agent.Channels;

/// <summary>
/// A duplex Stream over an open virtio-serial port. A small thread polls and reads the fd into a
/// pipe (so no thread-pool thread ever blocks in read), writes go straight to the fd. Read returns
/// 0 once the host side disconnects (the port reads EOF and polls POLLHUP). A pipe's bytes can be spliced
/// into the port: virtio_console hands the pipe's pages to the host without copying them.
/// </summary>
internal sealed class SerialPortStream : Stream, ISpliceTarget
{
    private const int PollMilliseconds = 100;

    private readonly OwnedFd _fd;
    private readonly Pipe _incoming = new(new PipeOptions(pauseWriterThreshold: 1024 * 1024, resumeWriterThreshold: 512 * 1024,
        useSynchronizationContext: false));
    private readonly Thread _reader;
    private const int RelayBytes = 1024 * 1024;

    private readonly Lock _writeGate = new();
    private (OwnedFd Read, OwnedFd Write)? _relay;
    private volatile bool _disposed;

    public SerialPortStream(OwnedFd fd, string name)
    {
        _fd = fd;
        FdOps.SetNonBlocking(fd.Value);
        _reader = new Thread(ReadLoop, 128 * 1024) { IsBackground = true, Name = $"serial {name}" };
        _reader.Start();
    }

    public override bool CanRead => true;

    public override bool CanWrite => true;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            var result = await _incoming.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var available = result.Buffer;
            if (!available.IsEmpty)
            {
                var n = (int)Math.Min(available.Length, buffer.Length);
                available.Slice(0, n).CopyTo(buffer.Span);
                _incoming.Reader.AdvanceTo(available.GetPosition(n));
                return n;
            }

            _incoming.Reader.AdvanceTo(available.End);
            if (result.IsCompleted || result.IsCanceled)
            {
                return 0;
            }
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        lock (_writeGate)
        {
            try
            {
                FdOps.WriteAll(_fd.Value, buffer, "virtio-serial", CancellationToken.None);
            }
            catch (ErrnoException e)
            {
                // EPIPE, ENOTCONN, EIO: the host went away; the server then ends this connection.
                throw new IOException($"virtio-serial write failed: {e.Message}", e);
            }
        }
    }

    /// <summary>
    /// The process's pipe goes on filling while its bytes are spliced, and virtio_console must be given a pipe's
    /// whole content (see <see cref="FdOps.SpliceAll"/>): the bytes go through a relay pipe of the port's own,
    /// pipe to pipe (the buffers change hands, nothing is copied), then all of the relay into the port.
    /// </summary>
    public void SpliceFrom(int pipeFd, int length)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        lock (_writeGate)
        {
            try
            {
                _relay ??= CreateRelay();
                var left = length;
                while (left > 0)
                {
                    var moved = FdOps.SplicePipe(pipeFd, _relay.Value.Write.Value, left, "into the virtio-serial relay");
                    FdOps.SpliceAll(_relay.Value.Read.Value, _fd.Value, moved, "virtio-serial");
                    left -= moved;
                }
            }
            catch (ErrnoException e)
            {
                // Whatever the relay still holds belongs to a torn frame; the connection ends, and this stream with it.
                DisposeRelay();
                throw new IOException($"virtio-serial splice failed: {e.Message}", e);
            }
        }
    }

    private static (OwnedFd Read, OwnedFd Write) CreateRelay()
    {
        var relay = FdOps.CreatePipe();
        FdOps.SetNonBlocking(relay.Read.Value);
        FdOps.SetNonBlocking(relay.Write.Value);
        // As large as a process's pipe, so one move takes all it holds; a smaller one only takes more rounds.
        FdOps.TrySetPipeSize(relay.Write.Value, RelayBytes);
        return relay;
    }

    private void DisposeRelay()
    {
        _relay?.Read.Dispose();
        _relay?.Write.Dispose();
        _relay = null;
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Write(buffer.Span);
        return ValueTask.CompletedTask;
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        Write(buffer.AsSpan(offset, count));
        return Task.CompletedTask;
    }

    public override void Flush()
    {
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing && !_disposed)
        {
            _disposed = true;
            // The reader notices within one poll interval; only then is the fd closed under nobody.
            _reader.Join();
            lock (_writeGate)
            {
                _fd.Dispose();
                DisposeRelay();
            }
        }

        base.Dispose(disposing);
    }

    private void ReadLoop()
    {
        Exception? failure = null;
        try
        {
            while (!_disposed)
            {
                var events = FdOps.PollOne(_fd.Value, Linux.POLLIN, PollMilliseconds);
                if (events == 0)
                {
                    continue;
                }

                if ((events & Linux.POLLIN) == 0 && (events & (Linux.POLLHUP | Linux.POLLERR | Linux.POLLNVAL)) != 0)
                {
                    break;
                }

                var memory = _incoming.Writer.GetMemory(64 * 1024);
                var n = FdOps.ReadSome(_fd.Value, memory.Span, "virtio-serial");
                if (n == 0)
                {
                    break;
                }

                if (n > 0)
                {
                    _incoming.Writer.Advance(n);
                    var flush = _incoming.Writer.FlushAsync().AsTask().GetAwaiter().GetResult();
                    if (flush.IsCompleted)
                    {
                        break;
                    }
                }
            }
        }
        catch (Exception e)
        {
            failure = e;
        }
        finally
        {
            _incoming.Writer.Complete(failure is null ? null : new IOException(failure.Message, failure));
        }
    }
}

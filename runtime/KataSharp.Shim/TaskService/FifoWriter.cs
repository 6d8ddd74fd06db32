using KataSharp.Native;

namespace KataSharp.Shim.TaskService;

/// <summary>
/// The shim's end of an output FIFO, opened read-write and non-blocking: the open never waits for
/// containerd's reader, our own read side spares us EPIPE when that reader goes, and a write into a full
/// FIFO waits in poll until there is room or <paramref name="stop"/> is cancelled, so a FIFO nobody reads
/// never keeps a thread or the fd past the process's teardown.
/// </summary>
internal sealed class FifoWriter(OwnedFd fd, CancellationToken stop) : Stream
{
    /// <exception cref="ErrnoException">The path cannot be opened (an <see cref="IOException"/>).</exception>
    public static FifoWriter Open(string path, CancellationToken stop) => new(FdOps.Open(path, Linux.O_RDWR | Linux.O_NONBLOCK), stop);

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        FdOps.WriteAll(fd.Value, buffer, "FIFO", stop);
    }

    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            fd.Dispose();
        }

        base.Dispose(disposing);
    }
}

using KataSharp.Native;
using KataSharp.Runtime.Stdio;

namespace KataSharp.Shim.TaskService;

/// <summary>
/// The shim's end of an output FIFO, opened read-write and non-blocking: the open never waits for
/// containerd's reader, our own read side spares us EPIPE when that reader goes, and a write into a full
/// FIFO waits in poll until there is room or <paramref name="stop"/> is cancelled, so a FIFO nobody reads
/// never keeps a thread or the fd past the process's teardown.
/// </summary>
/// <remarks>
/// Closing is the end of the stream for containerd, and containerd opens its reader in the background (a blocking
/// open in a goroutine, started before it asks us to start the process). Closing before that open has begun would
/// lose the output and leave the open, and CRI's ExecSync waiting on it, blocked for good, so <see cref="Dispose(bool)"/>
/// keeps the write end until a reader is there (<see cref="ReaderWait"/> at most), unless <paramref name="stop"/> is cancelled.
/// </remarks>
internal sealed class FifoWriter(OwnedFd fd, CancellationToken stop) : WriteOnlyStream
{
    /// <summary>How long a closing writer waits for a reader that has not opened the FIFO yet.</summary>
    public static readonly TimeSpan ReaderWait = TimeSpan.FromSeconds(10);

    private static readonly TimeSpan ReaderPoll = TimeSpan.FromMilliseconds(20);

    /// <exception cref="ErrnoException">The path cannot be opened (an <see cref="IOException"/>).</exception>
    public static FifoWriter Open(string path, CancellationToken stop) => new(FdOps.Open(path, Linux.O_RDWR | Linux.O_NONBLOCK), stop);

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        FdOps.WriteAll(fd.Value, buffer, "FIFO", stop);
    }

    public override void Flush()
    {
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            CloseOnceReaderIsThere();
        }

        base.Dispose(disposing);
    }

    private void CloseOnceReaderIsThere()
    {
        if (fd.IsInvalid || stop.IsCancellationRequested)
        {
            fd.Dispose();
            return;
        }

        // Our read side hides whether anyone else reads, so hand the pipe over to a write-only fd (reopening the
        // FIFO through our own fd, which works even once its path is gone) and drop the read side: a FIFO's write
        // end polls POLLERR while it has no reader. What is buffered stays in the pipe while that fd is open.
        OwnedFd writeOnly;
        try
        {
            writeOnly = FdOps.Open($"/proc/self/fd/{fd.Value}", Linux.O_WRONLY | Linux.O_NONBLOCK);
        }
        catch (ErrnoException)
        {
            fd.Dispose();
            return;
        }

        fd.Dispose();
        using (writeOnly)
        {
            var deadline = Environment.TickCount64 + (long)ReaderWait.TotalMilliseconds;
            // On the lane's own thread (or at teardown, when stop is already cancelled): sleeping here blocks nobody else.
            while ((FdOps.PollOne(writeOnly.Value, Linux.POLLOUT, 0) & Linux.POLLERR) != 0
                && Environment.TickCount64 < deadline
                && !stop.IsCancellationRequested)
            {
                Thread.Sleep(ReaderPoll);
            }
        }
    }
}

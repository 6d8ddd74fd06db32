namespace KataSharp.Native;

/// <summary>Small helpers around raw descriptors: pipes, flags, and poll-driven reads and writes.</summary>
public static unsafe class FdOps
{
    /// <summary>A close-on-exec pipe; the caller owns both ends.</summary>
    public static (OwnedFd Read, OwnedFd Write) CreatePipe()
    {
        int* fds = stackalloc int[2];
        ErrnoException.ThrowIfFailed(Libc.Pipe2(fds, Linux.O_CLOEXEC), "pipe2");
        return (new OwnedFd(fds[0]), new OwnedFd(fds[1]));
    }

    public static OwnedFd Open(string path, int flags, int mode = 0)
    {
        var fd = Libc.Open(path, flags | Linux.O_CLOEXEC, mode);
        if (fd < 0)
        {
            throw ErrnoException.FromLastError($"open {path}");
        }

        return new OwnedFd(fd);
    }

    public static void SetNonBlocking(int fd)
    {
        var flags = Libc.Fcntl(fd, Linux.F_GETFL, 0);
        ErrnoException.ThrowIfFailed(flags, "fcntl(F_GETFL)");
        ErrnoException.ThrowIfFailed(Libc.Fcntl(fd, Linux.F_SETFL, flags | Linux.O_NONBLOCK), "fcntl(F_SETFL)");
    }

    /// <summary>
    /// Asks the kernel for a pipe buffer of at least <paramref name="bytes"/>; returns the size it gave, or
    /// 0 when it refused (an unprivileged caller over /proc/sys/fs/pipe-max-size, or a pipe-user quota).
    /// </summary>
    public static int TrySetPipeSize(int fd, int bytes)
    {
        var size = Libc.Fcntl(fd, Linux.F_SETPIPE_SZ, bytes);
        return size < 0 ? 0 : size;
    }

    /// <summary>A close-on-exec duplicate sharing the open file description.</summary>
    public static OwnedFd Duplicate(int fd)
    {
        var copy = Libc.Fcntl(fd, Linux.F_DUPFD_CLOEXEC, 3);
        ErrnoException.ThrowIfFailed(copy, "fcntl(F_DUPFD_CLOEXEC)");
        return new OwnedFd(copy);
    }

    public static bool IsOpen(int fd) => Libc.Fcntl(fd, Linux.F_GETFD, 0) >= 0;

    /// <summary>Polls one fd; returns the returned events, 0 on timeout.</summary>
    public static short PollOne(int fd, short events, int timeoutMilliseconds)
    {
        var pfd = new PollFd { Fd = fd, Events = events };
        while (true)
        {
            var n = Libc.Poll(&pfd, 1, timeoutMilliseconds);
            if (n >= 0)
            {
                return n == 0 ? (short)0 : pfd.ReturnedEvents;
            }

            var errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            if (errno != Linux.EINTR)
            {
                throw new ErrnoException("poll", errno);
            }
        }
    }

    /// <summary>
    /// Sleeps until <paramref name="fd"/> is readable (or hung up: the next read sees EOF) or until
    /// <paramref name="wakeFd"/> is, with no timeout: true for the fd, false for the wake-up.
    /// </summary>
    public static bool PollReadable(int fd, int wakeFd)
    {
        var fds = stackalloc PollFd[2];
        fds[0] = new PollFd { Fd = fd, Events = Linux.POLLIN };
        fds[1] = new PollFd { Fd = wakeFd, Events = Linux.POLLIN };
        while (Libc.Poll(fds, 2, -1) < 0)
        {
            var errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            if (errno != Linux.EINTR)
            {
                throw new ErrnoException("poll", errno);
            }
        }

        return fds[1].ReturnedEvents == 0;
    }

    /// <summary>
    /// One read from a non-blocking fd: bytes read, 0 at EOF, or -1 when nothing is available yet.
    /// </summary>
    public static int ReadSome(int fd, Span<byte> buffer, string what)
    {
        fixed (byte* p = buffer)
        {
            while (true)
            {
                var n = Libc.Read(fd, p, buffer.Length);
                if (n >= 0)
                {
                    return (int)n;
                }

                var errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
                switch (errno)
                {
                    case Linux.EINTR:
                        continue;
                    case Linux.EAGAIN:
                        return -1;
                    case Linux.EIO:
                        // A pty master reads EIO once every slave fd has closed: that is its EOF.
                        return 0;
                    default:
                        throw new ErrnoException($"read {what}", errno);
                }
            }
        }
    }

    /// <summary>How many bytes a pipe (or socket) holds unread (FIONREAD).</summary>
    public static int BytesReadable(int fd)
    {
        int count;
        ErrnoException.ThrowIfFailed(Libc.Ioctl(fd, Linux.FIONREAD, &count), "ioctl(FIONREAD)");
        return count;
    }

    /// <summary>
    /// Moves up to <paramref name="length"/> bytes from one pipe into another with splice(2), which hands over
    /// the pipe's buffers without copying them: returns how many moved, at least one. The source must hold
    /// bytes and the target have room; either failing throws.
    /// </summary>
    public static int SplicePipe(int sourcePipe, int targetPipe, int length, string what)
    {
        while (true)
        {
            var n = Libc.Splice(sourcePipe, null, targetPipe, null, (nuint)length, Linux.SPLICE_F_MOVE | Linux.SPLICE_F_NONBLOCK);
            if (n > 0)
            {
                return (int)n;
            }

            var errno = n == 0 ? Linux.EIO : System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            if (errno != Linux.EINTR)
            {
                throw new ErrnoException($"splice {what}: the pipe gave none of the {length} bytes it held", errno);
            }
        }
    }

    /// <summary>
    /// Moves everything in the pipe <paramref name="pipeFd"/>, exactly <paramref name="length"/> bytes that nobody
    /// else reads or writes, into the non-blocking <paramref name="outFd"/> with splice(2), waiting for room with
    /// poll. A device that can take the pipe's pages (a virtio-serial port) sends them without a copy.
    /// It must be the pipe's whole content: Linux 6.1's virtio_console builds a scatterlist as long as the pipe
    /// has buffers and dereferences every entry, so a splice that leaves a buffer behind crashes the guest kernel
    /// (a NULL page, seen here). Throws once anything fails: the bytes moved so far cannot be taken back, so the
    /// caller's stream is torn.
    /// </summary>
    public static void SpliceAll(int pipeFd, int outFd, int length, string what, int pollMilliseconds = 100)
    {
        var left = length;
        while (left > 0)
        {
            var n = Libc.Splice(pipeFd, null, outFd, null, (nuint)left, Linux.SPLICE_F_MOVE | Linux.SPLICE_F_NONBLOCK);
            if (n > 0)
            {
                left -= (int)n;
                continue;
            }

            if (n == 0)
            {
                // The pipe held the bytes, so nothing moved means the device dropped them (virtio_console returns
                // 0 when its queue refuses a buffer it already took from the pipe).
                throw new ErrnoException($"splice into {what} moved nothing with {left} of {length} bytes left", Linux.EIO);
            }

            var errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            if (errno == Linux.EINTR)
            {
                continue;
            }

            if (errno != Linux.EAGAIN)
            {
                throw new ErrnoException($"splice into {what}", errno);
            }

            var events = PollOne(outFd, Linux.POLLOUT, pollMilliseconds);
            if ((events & (Linux.POLLERR | Linux.POLLNVAL)) != 0)
            {
                throw new ErrnoException($"splice into {what}", Linux.EPIPE);
            }
        }
    }

    /// <summary>
    /// Writes all of <paramref name="data"/> to a non-blocking fd, waiting for room with poll so
    /// that cancellation is noticed within <paramref name="pollMilliseconds"/>.
    /// </summary>
    public static void WriteAll(int fd, ReadOnlySpan<byte> data, string what, CancellationToken cancellationToken, int pollMilliseconds = 100)
    {
        fixed (byte* start = data)
        {
            var offset = 0;
            while (offset < data.Length)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var n = Libc.Write(fd, start + offset, data.Length - offset);
                if (n > 0)
                {
                    offset += (int)n;
                    continue;
                }

                var errno = n < 0 ? System.Runtime.InteropServices.Marshal.GetLastPInvokeError() : Linux.EAGAIN;
                if (errno == Linux.EINTR)
                {
                    continue;
                }

                if (errno != Linux.EAGAIN)
                {
                    throw new ErrnoException($"write {what}", errno);
                }

                var events = PollOne(fd, Linux.POLLOUT, pollMilliseconds);
                if ((events & (Linux.POLLERR | Linux.POLLNVAL)) != 0)
                {
                    throw new ErrnoException($"write {what}", Linux.EPIPE);
                }
            }
        }
    }

    /// <summary>
    /// Makes sure fds 0, 1 and 2 are open. If the kernel could not open /dev/console for init they
    /// are not, and the first pipe the agent made would land on them and be mistaken for stdio.
    /// </summary>
    public static void EnsureStandardFdsOpen()
    {
        for (var fd = 0; fd <= 2; fd++)
        {
            if (IsOpen(fd))
            {
                continue;
            }

            // open() returns the lowest free fd, which is this one; no O_CLOEXEC: children inherit it.
            var opened = Libc.Open("/dev/console", Linux.O_RDWR | Linux.O_NOCTTY, 0);
            if (opened < 0)
            {
                opened = Libc.Open("/dev/null", Linux.O_RDWR, 0);
            }

            if (opened >= 0 && opened != fd)
            {
                Libc.Close(opened);
            }
        }
    }
}

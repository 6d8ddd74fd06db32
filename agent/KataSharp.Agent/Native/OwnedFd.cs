namespace KataSharp.Agent.Native;

/// <summary>
/// A file descriptor with one owner that closes it exactly once. Deliberately not a SafeHandle:
/// fds here are handed to child processes by number and read on dedicated threads, and the
/// owner decides when nobody uses them any more.
/// </summary>
internal sealed class OwnedFd : IDisposable
{
    private int _fd;

    public OwnedFd(int fd) => _fd = fd;

    /// <summary>The descriptor, or -1 after disposal.</summary>
    public int Value => Volatile.Read(ref _fd);

    public bool IsClosed => Value < 0;

    /// <summary>Gives up ownership without closing, for a caller that wraps the fd elsewhere.</summary>
    public int Release() => Interlocked.Exchange(ref _fd, -1);

    public void Dispose()
    {
        var fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0)
        {
            Libc.Close(fd);
        }
    }

    public override string ToString() => $"fd {Value}";
}

using System.Runtime.InteropServices;

namespace KataSharp.Native.Files;

/// <summary>
/// An exclusive flock(2) on a file or directory, held until disposed. The kernel drops the lock when the
/// process dies, so a crash never wedges the next holder; locking a directory leaves no lock file behind.
/// </summary>
public sealed class FileLock : IDisposable
{
    private static readonly TimeSpan RetryInterval = TimeSpan.FromMilliseconds(20);

    private readonly OwnedFd _fd;

    private FileLock(OwnedFd fd) => _fd = fd;

    /// <summary>Takes the lock on <paramref name="path"/>, retrying until <paramref name="timeout"/>.</summary>
    /// <exception cref="ErrnoException">The path cannot be opened or locked.</exception>
    /// <exception cref="TimeoutException">Someone else held the lock for all of <paramref name="timeout"/>.</exception>
    public static Task<FileLock> AcquireAsync(string path, TimeSpan timeout, CancellationToken cancellationToken) =>
        AcquireAsync(path, timeout, shared: false, cancellationToken);

    /// <summary>Takes the lock, shared (many holders, no exclusive one) or exclusive, retrying until <paramref name="timeout"/>.</summary>
    public static async Task<FileLock> AcquireAsync(string path, TimeSpan timeout, bool shared, CancellationToken cancellationToken)
    {
        var fd = FdOps.Open(path, Linux.O_RDONLY);
        var deadline = DateTime.UtcNow + timeout;
        try
        {
            // Non-blocking attempts with a short sleep: a blocking flock would pin a thread and ignore cancellation.
            while (true)
            {
                if (Libc.Flock(fd.Value, (shared ? Linux.LOCK_SH : Linux.LOCK_EX) | Linux.LOCK_NB) == 0)
                {
                    return new FileLock(fd);
                }

                var errno = Marshal.GetLastPInvokeError();
                if (errno != Linux.EWOULDBLOCK && errno != Linux.EINTR)
                {
                    throw new ErrnoException($"flock {path}", errno);
                }

                if (DateTime.UtcNow > deadline)
                {
                    throw new TimeoutException($"{path} stayed locked for {timeout.TotalSeconds} s");
                }

                await Task.Delay(RetryInterval, cancellationToken).ConfigureAwait(false);
            }
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        if (!_fd.IsClosed)
        {
            _ = Libc.Flock(_fd.Value, Linux.LOCK_UN);
        }

        _fd.Dispose();
    }
}

using System.Runtime.InteropServices;

namespace KataSharp.Runtime.Network;

/// <summary>
/// An exclusive flock(2) on a directory, held until disposed. Locking the directory itself leaves no lock
/// file behind, and the kernel drops the lock if the process dies, so a crash never wedges other sandboxes.
/// </summary>
internal sealed partial class DirectoryLock : IDisposable
{
    private const int O_RDONLY = 0;
    private const int O_DIRECTORY = 0x10000;
    private const int O_CLOEXEC = 0x80000;
    private const int LOCK_EX = 2;
    private const int LOCK_NB = 4;
    private const int LOCK_UN = 8;
    private const int EWOULDBLOCK = 11;
    private const int EINTR = 4;

    private int _fd;

    private DirectoryLock(int fd) => _fd = fd;

    /// <exception cref="NetworkException">The directory cannot be opened, or the lock was not free within <paramref name="timeout"/>.</exception>
    public static async Task<DirectoryLock> AcquireAsync(string directory, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var fd = Open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
        {
            throw new NetworkException($"cannot open {directory} to lock it: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        }

        var deadline = DateTime.UtcNow + timeout;
        try
        {
            // Non-blocking attempts with a short sleep: a blocking flock would pin a thread and ignore cancellation.
            while (true)
            {
                if (Flock(fd, LOCK_EX | LOCK_NB) == 0)
                {
                    return new DirectoryLock(fd);
                }

                var errno = Marshal.GetLastPInvokeError();
                if (errno != EWOULDBLOCK && errno != EINTR)
                {
                    throw new NetworkException($"cannot lock {directory}: {Marshal.GetPInvokeErrorMessage(errno)}");
                }

                if (DateTime.UtcNow > deadline)
                {
                    throw new NetworkException($"{directory} stayed locked by another katasharp process for {timeout.TotalSeconds} s");
                }

                await Task.Delay(TimeSpan.FromMilliseconds(20), cancellationToken).ConfigureAwait(false);
            }
        }
        catch
        {
            _ = Close(fd);
            throw;
        }
    }

    public void Dispose()
    {
        var fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0)
        {
            _ = Flock(fd, LOCK_UN);
            _ = Close(fd);
        }
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "flock", SetLastError = true)]
    private static partial int Flock(int fd, int operation);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}

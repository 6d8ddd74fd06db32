using KataSharp.Native;
using KataSharp.Native.Files;

namespace KataSharp.Runtime.Network;

/// <summary>
/// An exclusive flock(2) on a directory, held until disposed. Locking the directory itself leaves no lock
/// file behind, and the kernel drops the lock if the process dies, so a crash never wedges other sandboxes.
/// </summary>
internal sealed class DirectoryLock : IDisposable
{
    private readonly FileLock _lock;

    private DirectoryLock(FileLock held) => _lock = held;

    /// <exception cref="NetworkException">The directory cannot be opened, or the lock was not free within <paramref name="timeout"/>.</exception>
    public static async Task<DirectoryLock> AcquireAsync(string directory, TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            return new DirectoryLock(await FileLock.AcquireAsync(directory, timeout, cancellationToken).ConfigureAwait(false));
        }
        catch (ErrnoException e)
        {
            throw new NetworkException($"cannot lock {directory}: {e.Message}");
        }
        catch (TimeoutException)
        {
            throw new NetworkException($"{directory} stayed locked by another katasharp process for {timeout.TotalSeconds} s");
        }
    }

    public void Dispose() => _lock.Dispose();
}

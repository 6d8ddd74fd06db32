using KataSharp.Native;
using KataSharp.Native.Files;

namespace KataSharp.Runtime.Sandbox;

/// <summary>
/// The flock a sandbox's owner (the shim, or a foreground <c>katasharp run</c>) holds on the sandbox
/// directory for the sandbox's whole life, taken before its state.json exists. The kernel drops it when
/// the owner dies, so a free lock on a sandbox whose VM is gone means nobody will ever clean it up:
/// what <see cref="SandboxGarbageCollector"/> looks for. A kept sandbox (run -d) has no owner; its
/// running VM is what keeps it alive.
/// </summary>
public sealed class SandboxOwnerLock : IDisposable
{
    private readonly FileLock _lock;

    private SandboxOwnerLock(FileLock held) => _lock = held;

    /// <summary>Takes the lock at once, or returns null when another process holds it.</summary>
    /// <exception cref="SandboxException">Internal: the directory cannot be opened or locked.</exception>
    public static async Task<SandboxOwnerLock?> TryTakeAsync(string directory, CancellationToken cancellationToken)
    {
        try
        {
            return new SandboxOwnerLock(await FileLock.AcquireAsync(directory, TimeSpan.Zero, cancellationToken).ConfigureAwait(false));
        }
        catch (TimeoutException)
        {
            return null;
        }
        catch (ErrnoException e)
        {
            throw new SandboxException(SandboxErrorCode.Internal, $"cannot lock {directory}: {e.Message}", e);
        }
    }

    public void Dispose() => _lock.Dispose();
}

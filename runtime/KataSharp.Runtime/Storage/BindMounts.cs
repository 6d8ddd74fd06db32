using System.Runtime.InteropServices;
using KataSharp.Native;

namespace KataSharp.Runtime.Storage;

/// <summary>mount(2) and umount2(2) for bind mounts, with errors that say what failed.</summary>
internal static class BindMounts
{
    /// <summary>Bind-mounts <paramref name="source"/> (recursively) at <paramref name="target"/>, then makes it read-only if asked.</summary>
    public static void Bind(string source, string target, bool readOnly)
    {
        if (Libc.Mount(source, target, null, Linux.MS_BIND | Linux.MS_REC, 0) != 0)
        {
            throw Error("bind-mount", source, target);
        }

        if (readOnly && Libc.Mount(null, target, null, Linux.MS_REMOUNT | Linux.MS_BIND | Linux.MS_RDONLY, 0) != 0)
        {
            // A bind mount that should be read-only must never be left writable.
            var error = Error("remount read-only", source, target);
            Unmount(target);
            throw error;
        }
    }

    /// <summary>Unmounts; a busy mount is detached lazily so teardown never leaves it reachable.</summary>
    public static void Unmount(string target)
    {
        if (Libc.Umount2(target, Linux.UMOUNT_NOFOLLOW) == 0)
        {
            return;
        }

        var errno = Marshal.GetLastPInvokeError();
        if (errno == Linux.EINVAL || errno == Linux.ENOENT)
        {
            return; // Not a mount point (any more).
        }

        if (Libc.Umount2(target, Linux.MNT_DETACH | Linux.UMOUNT_NOFOLLOW) != 0)
        {
            errno = Marshal.GetLastPInvokeError();
            if (errno != Linux.EINVAL && errno != Linux.ENOENT)
            {
                throw new IOException($"cannot unmount {target}: {ErrnoException.Describe(errno)}");
            }
        }
    }

    private static IOException Error(string what, string source, string target) =>
        new($"cannot {what} {source} at {target}: {ErrnoException.Describe(Marshal.GetLastPInvokeError())}");
}

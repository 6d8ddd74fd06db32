using System.Runtime.InteropServices;
using KataSharp.Runtime.Interop;

namespace KataSharp.Runtime.Storage;

/// <summary>mount(2) and umount2(2) for bind mounts, with errors that say what failed.</summary>
internal static class BindMounts
{
    /// <summary>Bind-mounts <paramref name="source"/> (recursively) at <paramref name="target"/>, then makes it read-only if asked.</summary>
    public static void Bind(string source, string target, bool readOnly)
    {
        if (LibC.Mount(source, target, null, LibC.MS_BIND | LibC.MS_REC, 0) != 0)
        {
            throw Error("bind-mount", source, target);
        }

        if (readOnly && LibC.Mount(null, target, null, LibC.MS_REMOUNT | LibC.MS_BIND | LibC.MS_RDONLY, 0) != 0)
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
        if (LibC.Umount2(target, LibC.UMOUNT_NOFOLLOW) == 0)
        {
            return;
        }

        var errno = Marshal.GetLastPInvokeError();
        if (errno == LibC.EINVAL || errno == LibC.ENOENT)
        {
            return; // Not a mount point (any more).
        }

        if (LibC.Umount2(target, LibC.MNT_DETACH | LibC.UMOUNT_NOFOLLOW) != 0)
        {
            errno = Marshal.GetLastPInvokeError();
            if (errno != LibC.EINVAL && errno != LibC.ENOENT)
            {
                throw new IOException($"cannot unmount {target}: {LibC.ErrorText(errno)}");
            }
        }
    }

    private static IOException Error(string what, string source, string target) =>
        new($"cannot {what} {source} at {target}: {LibC.ErrorText(Marshal.GetLastPInvokeError())}");
}

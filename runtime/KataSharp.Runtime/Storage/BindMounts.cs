using System.Runtime.InteropServices;
using KataSharp.Native;

namespace KataSharp.Runtime.Storage;

/// <summary>mount(2) and umount2(2) for bind mounts, with errors that say what failed.</summary>
internal static class BindMounts
{
    /// <summary>Bind-mounts <paramref name="source"/> (recursively) at <paramref name="target"/>, read-only if asked.</summary>
    /// <remarks>
    /// A bind is made read-only by a remount, and a remount does not reach the copies that mount propagation
    /// has already made: the VMM's mount namespace receives every mount under the share (see VmmJail), and
    /// would get a writable copy. So a read-only bind is first made, and made read-only, at a private staging
    /// point outside the share, and that mount is bound into place: copies of a read-only mount are read-only.
    /// </remarks>
    public static void Bind(string source, string target, bool readOnly)
    {
        if (!readOnly)
        {
            Mount(source, target);
            return;
        }

        var directory = Directory.Exists(source);
        var staging = directory
            ? Directory.CreateTempSubdirectory("katasharp-ro-").FullName
            : Path.Combine(Path.GetTempPath(), $"katasharp-ro-{Guid.NewGuid():N}");
        try
        {
            if (!directory)
            {
                File.Create(staging).Dispose();
            }

            Mount(source, staging);
            try
            {
                if (Libc.Mount(null, staging, null, Linux.MS_REMOUNT | Linux.MS_BIND | Linux.MS_RDONLY, 0) != 0)
                {
                    throw Error("remount read-only", source, staging);
                }

                Mount(staging, target);
            }
            finally
            {
                Unmount(staging);
            }
        }
        finally
        {
            if (directory)
            {
                Directory.Delete(staging);
            }
            else
            {
                File.Delete(staging);
            }
        }
    }

    private static void Mount(string source, string target)
    {
        if (Libc.Mount(source, target, null, Linux.MS_BIND | Linux.MS_REC, 0) != 0)
        {
            throw Error("bind-mount", source, target);
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

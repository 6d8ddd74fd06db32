using System.Runtime.InteropServices;
using KataSharp.Native;
using KataSharp.Native.Mounts;
using Microsoft.Extensions.Logging;

namespace KataSharp.Runtime.Storage;

/// <summary>mount(2) and umount2(2) for bind mounts, with errors that say what failed.</summary>
internal static class BindMounts
{
    /// <summary>Bind-mounts <paramref name="source"/> (recursively) at <paramref name="target"/>.</summary>
    public static void Bind(string source, string target)
    {
        if (Libc.Mount(source, target, null, Linux.MS_BIND | Linux.MS_REC, 0) != 0)
        {
            throw Error("bind-mount", source, target);
        }
    }

    /// <summary>
    /// Binds <paramref name="source"/> at <paramref name="staging"/> (created here as a directory or file, and
    /// removed again), sets <paramref name="attributes"/> there on it and every mount beneath it, gives them
    /// <paramref name="propagation"/> (<see cref="Linux.MS_PRIVATE"/> or <see cref="Linux.MS_SLAVE"/>), then binds
    /// that prepared mount onto the target <paramref name="openTarget"/> opens.
    /// </summary>
    /// <remarks>
    /// Mount attributes do not propagate, and a later change does not reach the copies that mount propagation has
    /// already made (the VMM's mount namespace receives every mount under the share, see VmmJail). So the mount
    /// must have its attributes before it enters a propagating tree: it is prepared at a private staging point
    /// outside that tree, and copies of the prepared mount have them too.
    /// <para>
    /// A bind of a shared source would be its peer, and then unmounting the share's copy of a mount the host made
    /// under the source would unmount the host's own (umount propagates between peers). So the bind never stays a
    /// peer of its source: private, or a slave that receives the host's mounts and unmounts and sends none back.
    /// </para>
    /// </remarks>
    public static void BindStaged(string source, string staging, bool isDirectory, ulong attributes, ulong propagation, Func<OwnedFd> openTarget, ILogger logger)
    {
        if (isDirectory)
        {
            Directory.CreateDirectory(staging);
        }
        else
        {
            using (File.Create(staging))
            {
                // A file bind mount needs a file to mount over.
            }
        }

        try
        {
            Bind(source, staging);
            FdMounts.SetAttributes(staging, attributes, 0, recursive: true);
            SystemCalls.Mount(null, staging, null, propagation | Linux.MS_REC, null);
            using var target = openTarget();
            FdMounts.BindOnto(staging, target, recursive: true);
        }
        finally
        {
            MountedDirectory.UnmountAndDelete(staging, logger);
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

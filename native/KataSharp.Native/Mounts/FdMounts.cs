using System.Globalization;
using System.Runtime.InteropServices;

namespace KataSharp.Native.Mounts;

/// <summary>
/// Mount operations on fds rather than path strings, so that a path resolved safely (see
/// <see cref="Files.SafePath"/>) is the one mounted on, even if a guest swaps it for a symlink afterwards.
/// </summary>
public static unsafe class FdMounts
{
    /// <summary>The attributes every read-only guest share gets: no writes, no setuid, no device nodes.</summary>
    public const ulong ReadOnlyAttributes = Linux.MOUNT_ATTR_RDONLY | Linux.MOUNT_ATTR_NOSUID | Linux.MOUNT_ATTR_NODEV;

    /// <summary>The /proc/self/fd path of an fd: mount(2) resolves it to the very file the fd has open.</summary>
    public static string ProcPath(OwnedFd fd) => "/proc/self/fd/" + fd.Value.ToString(CultureInfo.InvariantCulture);

    /// <summary>Bind-mounts <paramref name="source"/> (a trusted host path) onto the directory or file open as <paramref name="target"/>.</summary>
    public static void BindOnto(string source, OwnedFd target, bool recursive)
    {
        var flags = Linux.MS_BIND | (recursive ? Linux.MS_REC : 0);
        if (Libc.Mount(source, ProcPath(target), null, flags, 0) != 0)
        {
            throw ErrnoException.FromLastError($"bind {source} onto {ProcPath(target)}");
        }
    }

    /// <summary>
    /// Bind-mounts <paramref name="source"/> onto <paramref name="relativePath"/> beneath <paramref name="root"/>,
    /// resolved without symlinks (<see cref="Files.SafePath.OpenBeneath"/>); the target must exist.
    /// </summary>
    public static void BindBeneath(string source, OwnedFd root, string relativePath, bool recursive)
    {
        using var target = Files.SafePath.OpenBeneath(root, relativePath, Linux.O_PATH);
        BindOnto(source, target, recursive);
    }

    /// <summary>
    /// Detaches the mount whose root is open as <paramref name="mountRoot"/> (an fd opened through the mount
    /// point after mounting, e.g. with <see cref="Files.SafePath.OpenBeneath"/>). Always lazy (MNT_DETACH):
    /// the fd itself keeps the mount busy; the path shows what was beneath at once.
    /// </summary>
    public static void Unmount(OwnedFd mountRoot)
    {
        if (Libc.Umount2(ProcPath(mountRoot), Linux.MNT_DETACH) != 0)
        {
            throw ErrnoException.FromLastError($"umount {ProcPath(mountRoot)}");
        }
    }

    /// <summary>Bind-mounts the file or directory open as <paramref name="source"/> onto the one open as <paramref name="target"/>.</summary>
    public static void BindOnto(OwnedFd source, OwnedFd target, bool recursive) => BindOnto(ProcPath(source), target, recursive);

    /// <summary>
    /// Sets and clears MOUNT_ATTR_* flags on the mount at the fd <paramref name="mount"/> with mount_setattr(2),
    /// and with <paramref name="recursive"/> (AT_RECURSIVE) on every mount beneath it too, which a
    /// MS_REMOUNT|MS_BIND|MS_RDONLY remount cannot do.
    /// </summary>
    public static void SetAttributes(OwnedFd mount, ulong set, ulong clear, bool recursive) =>
        SetAttributes(mount.Value, "", Linux.AT_EMPTY_PATH, set, clear, recursive, ProcPath(mount));

    /// <summary>As <see cref="SetAttributes(OwnedFd, ulong, ulong, bool)"/>, for a trusted host path (not following a final symlink).</summary>
    public static void SetAttributes(string path, ulong set, ulong clear, bool recursive) =>
        SetAttributes(Linux.AT_FDCWD, path, Linux.AT_SYMLINK_NOFOLLOW, set, clear, recursive, path);

    /// <summary>Makes the mount at <paramref name="mount"/> (and, recursively, its submounts) read-only, nosuid and nodev.</summary>
    public static void MakeReadOnly(OwnedFd mount, bool recursive = true) => SetAttributes(mount, ReadOnlyAttributes, 0, recursive);

    private static void SetAttributes(int dirFd, string path, int flags, ulong set, ulong clear, bool recursive, string what)
    {
        var attributes = new MountAttr { AttrSet = set, AttrClear = clear };
        var bytes = System.Text.Encoding.UTF8.GetBytes(path + "\0");
        fixed (byte* p = bytes)
        {
            var result = Libc.Syscall(Linux.SYS_mount_setattr, dirFd, (nint)p, flags | (recursive ? Linux.AT_RECURSIVE : 0), (nint)(&attributes), sizeof(MountAttr));
            if (result != 0)
            {
                throw new ErrnoException($"mount_setattr {what}", Marshal.GetLastPInvokeError());
            }
        }
    }
}

using System.Runtime.InteropServices;
using System.Text;
using KataSharp.Native;

namespace KataSharp.Runtime.Storage;

/// <summary>One mount as containerd describes a snapshot: type, source and mount(8)-style options.</summary>
public sealed record RootfsMount(string Type, string Source, IReadOnlyList<string> Options);

/// <summary>
/// Mounts containerd's rootfs mounts (an overlay, or a bind for a single-layer snapshot) onto a
/// bundle's rootfs directory, as runc's shim does, and unmounts them again.
/// </summary>
public static class RootfsMounter
{
    private static readonly Dictionary<string, (ulong Set, ulong Clear)> Flags = new(StringComparer.Ordinal)
    {
        ["ro"] = (Linux.MS_RDONLY, 0),
        ["rw"] = (0, Linux.MS_RDONLY),
        ["bind"] = (Linux.MS_BIND, 0),
        ["rbind"] = (Linux.MS_BIND | Linux.MS_REC, 0),
        ["nosuid"] = (Linux.MS_NOSUID, 0),
        ["suid"] = (0, Linux.MS_NOSUID),
        ["nodev"] = (Linux.MS_NODEV, 0),
        ["dev"] = (0, Linux.MS_NODEV),
        ["noexec"] = (Linux.MS_NOEXEC, 0),
        ["exec"] = (0, Linux.MS_NOEXEC),
        ["defaults"] = (0, 0),
    };

    /// <summary>Splits mount options into mount(2) flags and the filesystem's data string.</summary>
    public static (ulong Flags, string Data) ParseOptions(IEnumerable<string> options)
    {
        ulong flags = 0;
        var data = new List<string>();
        foreach (var option in options)
        {
            if (Flags.TryGetValue(option, out var f))
            {
                flags = (flags | f.Set) & ~f.Clear;
            }
            else
            {
                data.Add(option);
            }
        }

        return (flags, string.Join(',', data));
    }

    /// <summary>Mounts every entry at <paramref name="target"/>; on failure, unmounts what it had mounted.</summary>
    /// <exception cref="ArgumentException">An unsupported mount type.</exception>
    /// <exception cref="IOException">mount(2) failed.</exception>
    public static void MountAll(IReadOnlyList<RootfsMount> mounts, string target)
    {
        var done = 0;
        try
        {
            foreach (var mount in mounts)
            {
                Mount(mount, target);
                done++;
            }
        }
        catch
        {
            for (var i = 0; i < done; i++)
            {
                BindMounts.Unmount(target);
            }

            throw;
        }
    }

    /// <summary>Unmounts everything stacked on <paramref name="target"/>.</summary>
    public static void UnmountAll(string target)
    {
        // Overlay and bind can be stacked; unmount until the directory is no mount point.
        for (var i = 0; i < 8 && MountTable.IsMountPoint(target); i++)
        {
            BindMounts.Unmount(target);
        }
    }

    private static void Mount(RootfsMount mount, string target)
    {
        var (flags, data) = ParseOptions(mount.Options);
        string? fsType = mount.Type;
        if (mount.Type is "bind" or "rbind")
        {
            flags |= Linux.MS_BIND | (mount.Type == "rbind" ? Linux.MS_REC : 0);
            fsType = null;
        }
        else if (mount.Type is not ("overlay" or "tmpfs" or "ext4" or "xfs" or "erofs"))
        {
            throw new ArgumentException($"unsupported rootfs mount type '{mount.Type}'");
        }

        if (data.Length > 4000)
        {
            // The kernel takes one page of mount data; a deep image's lowerdir list can exceed it.
            throw new ArgumentException($"the {mount.Type} mount options are too long ({data.Length} bytes)");
        }

        var bytes = Encoding.UTF8.GetBytes(data + "\0");
        var handle = GCHandle.Alloc(bytes, GCHandleType.Pinned);
        try
        {
            var readOnlyBind = (flags & Linux.MS_BIND) != 0 && (flags & Linux.MS_RDONLY) != 0;
            if (Libc.Mount(mount.Source, target, fsType, flags & ~(readOnlyBind ? Linux.MS_RDONLY : 0), data.Length == 0 ? 0 : handle.AddrOfPinnedObject()) != 0)
            {
                throw new IOException($"cannot mount {mount.Type} {mount.Source} at {target}: {ErrnoException.Describe(Marshal.GetLastPInvokeError())}");
            }

            if (readOnlyBind && Libc.Mount(null, target, null, Linux.MS_REMOUNT | Linux.MS_BIND | Linux.MS_RDONLY, 0) != 0)
            {
                var error = new IOException($"cannot make {target} read-only: {ErrnoException.Describe(Marshal.GetLastPInvokeError())}");
                BindMounts.Unmount(target);
                throw error;
            }
        }
        finally
        {
            handle.Free();
        }
    }
}

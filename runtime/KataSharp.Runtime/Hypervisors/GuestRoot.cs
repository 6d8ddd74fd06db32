namespace KataSharp.Runtime.Hypervisors;

/// <summary>How the guest's own root file system (the agent, crun, busybox) reaches it.</summary>
public enum GuestRootKind
{
    /// <summary>An erofs image on a read-only virtio-blk disk: nothing is unpacked at boot, and the host's page cache holds one copy for every VM.</summary>
    Image,

    /// <summary>A cpio archive the kernel unpacks into its rootfs (RAM) at every boot: the path for Debian's kernel, whose virtio_blk and erofs are modules.</summary>
    Initramfs,
}

/// <param name="Path">The image or the initramfs archive; absolute.</param>
public sealed record GuestRoot(GuestRootKind Kind, string Path)
{
    /// <summary>
    /// The kernel mounts the image as its root: the first virtio-blk disk, which is the only one a VM has, read-only (the
    /// disk is read-only too). The kernel looks for /sbin/init on a disk root, so init= names the agent.
    /// </summary>
    public const string ImageKernelParams = "root=/dev/vda ro rootfstype=erofs init=/init";

    public static GuestRoot Image(string path) => new(GuestRootKind.Image, path);

    public static GuestRoot Initramfs(string path) => new(GuestRootKind.Initramfs, path);
}

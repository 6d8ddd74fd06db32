using KataSharp.Runtime.Hypervisors;

namespace KataSharp.Runtime.Configuration;

/// <summary>
/// Where the guest kernel, initrd and default image are when the configuration does not say:
/// next to the executable first (<c>build/bin/../guest/&lt;guest.kernel&gt;</c>, so a fresh build runs without
/// installing), then the installed location.
/// </summary>
public static class GuestAssets
{
    public const string InstalledGuestDir = "/usr/share/katasharp/guest";
    public const string InstalledImagesDir = "/usr/share/katasharp/images";
    public const string DefaultImageFile = "busybox.oci.tar";

    /// <summary>The read-only root image guest-image/build.sh makes beside our kernel.</summary>
    public const string RootImageFile = "root.img";

    /// <summary>The directory holding the running executable.</summary>
    public static string ExecutableDirectory =>
        Path.GetDirectoryName(Environment.ProcessPath) ?? AppContext.BaseDirectory;

    public static string ResolveKernel(KataSharpConfig config, string? exeDir = null) =>
        config.Hypervisor.Kernel.Length > 0 ? config.Hypervisor.Kernel : FindGuestFile(config.Guest.Kernel, "vmlinux", exeDir ?? ExecutableDirectory);

    public static string ResolveInitrd(KataSharpConfig config, string? exeDir = null) =>
        config.Hypervisor.Initrd.Length > 0 ? config.Hypervisor.Initrd : FindGuestFile(config.Guest.Kernel, "initrd.img", exeDir ?? ExecutableDirectory);

    public static string ResolveImage(KataSharpConfig config, string? exeDir = null) =>
        config.Hypervisor.Image.Length > 0 ? config.Hypervisor.Image : FindGuestFile(config.Guest.Kernel, RootImageFile, exeDir ?? ExecutableDirectory);

    /// <summary>The guest's root as guest.root and guest.kernel make it.</summary>
    /// <exception cref="ConfigException">guest.root asks for the image with Debian's kernel, which cannot mount it.</exception>
    public static GuestRoot ResolveRoot(KataSharpConfig config, string? exeDir = null)
    {
        var kind = config.Guest.Root switch
        {
            GuestRootSetting.Image => GuestRootKind.Image,
            GuestRootSetting.Initramfs => GuestRootKind.Initramfs,
            _ => config.Guest.Kernel == GuestKernelKind.KataSharp ? GuestRootKind.Image : GuestRootKind.Initramfs,
        };
        if (kind == GuestRootKind.Image && config.Guest.Kernel == GuestKernelKind.Debian)
        {
            throw new ConfigException("guest.root: image needs guest.kernel: katasharp; Debian's kernel has virtio_blk and erofs as modules, so its root is the initramfs");
        }

        return kind == GuestRootKind.Image ? GuestRoot.Image(ResolveImage(config, exeDir)) : GuestRoot.Initramfs(ResolveInitrd(config, exeDir));
    }

    /// <summary>The directory name of a guest kernel's image below guest/ (build/guest/katasharp, /usr/share/katasharp/guest/debian).</summary>
    public static string KindDirectory(GuestKernelKind kind) => ConfigKeys.Name(ConfigKeys.GuestKernels, kind);

    /// <summary>The busybox image the build produces, used by <c>katasharp run</c> without --image.</summary>
    public static string DefaultImage(string? exeDir = null)
    {
        var local = Path.GetFullPath(Path.Combine(exeDir ?? ExecutableDirectory, "..", "images", DefaultImageFile));
        var installed = Path.Combine(InstalledImagesDir, DefaultImageFile);
        return File.Exists(local) || !File.Exists(installed) ? local : installed;
    }

    /// <summary>The first candidate that exists, else the first candidate (so the error names a useful path).</summary>
    private static string FindGuestFile(GuestKernelKind kind, string name, string exeDir)
    {
        var local = Path.GetFullPath(Path.Combine(exeDir, "..", "guest", KindDirectory(kind), name));
        var installed = Path.Combine(InstalledGuestDir, KindDirectory(kind), name);
        return File.Exists(local) || !File.Exists(installed) ? local : installed;
    }
}

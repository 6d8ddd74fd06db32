namespace KataSharp.Runtime.Configuration;

/// <summary>
/// Where the guest kernel, initrd and default image are when the configuration does not say:
/// next to the executable first (<c>build/bin/../guest</c>, so a fresh build runs without
/// installing), then the installed location.
/// </summary>
public static class GuestAssets
{
    public const string InstalledGuestDir = "/usr/share/katasharp/guest";
    public const string InstalledImagesDir = "/usr/share/katasharp/images";
    public const string DefaultImageFile = "busybox.oci.tar";

    /// <summary>The directory holding the running executable.</summary>
    public static string ExecutableDirectory =>
        Path.GetDirectoryName(Environment.ProcessPath) ?? AppContext.BaseDirectory;

    public static string ResolveKernel(HypervisorConfig config, string? exeDir = null) =>
        config.Kernel.Length > 0 ? config.Kernel : FindGuestFile("vmlinux", exeDir ?? ExecutableDirectory);

    public static string ResolveInitrd(HypervisorConfig config, string? exeDir = null) =>
        config.Initrd.Length > 0 ? config.Initrd : FindGuestFile("initrd.img", exeDir ?? ExecutableDirectory);

    /// <summary>The busybox image the build produces, used by <c>katasharp run</c> without --image.</summary>
    public static string DefaultImage(string? exeDir = null)
    {
        var local = Path.GetFullPath(Path.Combine(exeDir ?? ExecutableDirectory, "..", "images", DefaultImageFile));
        var installed = Path.Combine(InstalledImagesDir, DefaultImageFile);
        return File.Exists(local) || !File.Exists(installed) ? local : installed;
    }

    /// <summary>The first candidate that exists, else the first candidate (so the error names a useful path).</summary>
    private static string FindGuestFile(string name, string exeDir)
    {
        var local = Path.GetFullPath(Path.Combine(exeDir, "..", "guest", name));
        var installed = Path.Combine(InstalledGuestDir, name);
        return File.Exists(local) || !File.Exists(installed) ? local : installed;
    }
}

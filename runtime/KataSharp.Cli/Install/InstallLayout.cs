namespace KataSharp.Cli.Install;

/// <summary>
/// Where one install puts things: everything under one root (as kata-deploy's /opt/kata), laid out as
/// build/ is, so the shim finds its guest image beside it (bin/../guest) and a DaemonSet needs to mount
/// only the root and containerd's config directory.
/// </summary>
internal sealed record InstallLayout(string Root)
{
    public const string DefaultRoot = "/opt/katasharp";

    /// <summary>
    /// Where the binaries are linked: containerd 1.6 reads runtime_path but still starts the shim found on
    /// its PATH by the runtime_type's name, and systemd's PATH for containerd holds /usr/local/bin.
    /// </summary>
    public const string DefaultLinkDirectory = "/usr/local/bin";

    public static readonly string[] Binaries = ["katasharp", "containerd-shim-katasharp-v2"];

    private static readonly string[] GuestImageFiles = ["vmlinux", "initrd.img", "manifest.json", "kernel-release"];

    /// <summary>Relative to guest/: the default image, and each guest kernel's own (guest/&lt;kernel&gt;/, which guest.kernel picks).</summary>
    public static readonly string[] GuestFiles =
    [
        .. GuestImageFiles,
        .. Enum.GetValues<KataSharp.Runtime.Configuration.GuestKernelKind>()
            .SelectMany(kind => GuestImageFiles.Select(file => Path.Combine(KataSharp.Runtime.Configuration.GuestAssets.KindDirectory(kind), file))),
    ];

    /// <summary>
    /// Relative to guest/: the read-only root image, which only our kernel has (guest/katasharp/, and guest/ itself when
    /// ours is the build's default).
    /// </summary>
    public static readonly string[] OptionalGuestFiles =
    [
        KataSharp.Runtime.Configuration.GuestAssets.RootImageFile,
        Path.Combine(KataSharp.Runtime.Configuration.GuestAssets.KindDirectory(KataSharp.Runtime.Configuration.GuestKernelKind.KataSharp),
            KataSharp.Runtime.Configuration.GuestAssets.RootImageFile),
    ];

    public string Bin => Path.Combine(Root, "bin");

    public string Guest => Path.Combine(Root, "guest");

    public string Images => Path.Combine(Root, "images");

    public string Shim => Path.Combine(Bin, "containerd-shim-katasharp-v2");

    /// <summary>The katasharp.yaml the installed runtime entry points the shim at.</summary>
    public string Config => Path.Combine(Root, "etc", "katasharp.yaml");

    /// <summary>What install did, for uninstall.</summary>
    public string State => Path.Combine(Root, "install-state.json");

    /// <summary>containerd's copy of its config from before the first install changed it.</summary>
    public static string Backup(string containerdConfig) => containerdConfig + ".katasharp-backup";

    /// <summary>The drop-in for a version 3 config: conf.d beside config.toml.</summary>
    public static string DropIn(string containerdConfig) =>
        Path.Combine(Path.GetDirectoryName(Path.GetFullPath(containerdConfig))!, "conf.d", "katasharp.toml");
}

using KataSharp.Runtime.Containerd;

namespace KataSharp.Cli.Commands;

/// <summary>
/// <c>katasharp install</c>: places the binaries, the guest image and the default configuration
/// where containerd and the runtime look for them, and the containerd fragment the host's containerd
/// reads (version 2 or 3) where its config can import it.
/// </summary>
internal static class InstallCommand
{
    private const string Usage = """
        Usage: katasharp install [--from BUILD_DIR] [--prefix DIR] [--containerd-config FILE]

        Install KataSharp from a build directory (./build.sh install runs this).

          --from DIR     the build output: bin/, guest/, images/, configs/ (default: the directory above this binary's)
          --prefix DIR   where binaries go (default: /usr/local; containerd finds the shim on its PATH)
          --containerd-config FILE
                         containerd's config (default: /etc/containerd/config.toml); for a version 3
                         config the katasharp fragment goes to conf.d/katasharp.toml beside it
        """;

    private const string ImportsLine = "imports = [\"/etc/containerd/conf.d/*.toml\"]";

    public static async Task<int> ExecuteAsync(IReadOnlyList<string> args, CancellationToken cancellationToken)
    {
        var reader = new ArgReader("install").Value("from").Value("prefix").Value("containerd-config").Flag("help", 'h').Parse(args);
        if (reader.Has("help"))
        {
            System.Console.WriteLine(Usage);
            return 0;
        }

        var from = Path.GetFullPath(reader.Get("from") ?? Path.Combine(AppContext.BaseDirectory, ".."));
        var prefix = reader.Get("prefix") ?? "/usr/local";
        foreach (var binary in new[] { "katasharp", "containerd-shim-katasharp-v2" })
        {
            Copy(Path.Combine(from, "bin", binary), Path.Combine(prefix, "bin", binary), executable: true);
        }

        foreach (var file in new[] { "vmlinux", "initrd.img", "manifest.json", "kernel-release" })
        {
            Copy(Path.Combine(from, "guest", file), Path.Combine(Runtime.Configuration.GuestAssets.InstalledGuestDir, file), executable: false);
        }

        foreach (var image in Directory.EnumerateFiles(Path.Combine(from, "images"), "*.oci.tar"))
        {
            Copy(image, Path.Combine(Runtime.Configuration.GuestAssets.InstalledImagesDir, Path.GetFileName(image)), executable: false);
        }

        var config = Runtime.Configuration.ConfigLoader.SystemPath;
        if (File.Exists(config))
        {
            System.Console.WriteLine($"kept existing {config}");
        }
        else
        {
            Copy(Path.Combine(from, "configs", "katasharp.yaml"), config, executable: false);
        }

        var containerdConfig = reader.Get("containerd-config") ?? "/etc/containerd/config.toml";
        var configText = File.Exists(containerdConfig) ? await File.ReadAllTextAsync(containerdConfig, cancellationToken).ConfigureAwait(false) : null;
        var containerd = await ContainerdVersion.ProbeAsync("containerd", cancellationToken).ConfigureAwait(false);
        var fragment = ContainerdConfigFragment.Choose(containerd, configText);
        var source = Path.Combine(from, "configs", fragment.File);
        System.Console.WriteLine();
        System.Console.WriteLine($"containerd {containerd?.ToString() ?? "(not found)"}, config version {(configText is null ? "(none)" : ContainerdConfigFragment.DeclaredVersion(configText))}: {fragment.File}");
        if (fragment.DropIn)
        {
            Copy(source, Path.Combine(Path.GetDirectoryName(Path.GetFullPath(containerdConfig))!, "conf.d", "katasharp.toml"), executable: false);
            System.Console.WriteLine(configText is not null && configText.Contains("conf.d/", StringComparison.Ordinal)
                ? "Restart containerd to load it."
                : $"Add this line at the top of {containerdConfig}, then restart containerd:\n  {ImportsLine}");
        }
        else
        {
            System.Console.WriteLine($"Add this to {containerdConfig} and restart containerd:");
            System.Console.WriteLine();
            System.Console.WriteLine(await File.ReadAllTextAsync(source, cancellationToken).ConfigureAwait(false));
        }

        System.Console.WriteLine($"Kubernetes: kubectl apply -f {Path.Combine(from, "configs", "runtimeclass.yaml")}");
        return 0;
    }

    private static void Copy(string source, string destination, bool executable)
    {
        if (!File.Exists(source))
        {
            throw new UsageException($"install: {source} is missing; run ./build.sh build && ./build.sh image first");
        }

        Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
        // Copy then rename, so a running shim or VM never sees a half-written file.
        var temporary = destination + ".new";
        File.Copy(source, temporary, overwrite: true);
        if (executable)
        {
            File.SetUnixFileMode(temporary, (UnixFileMode)0b111_101_101);
        }

        File.Move(temporary, destination, overwrite: true);
        System.Console.WriteLine($"installed {destination}");
    }
}

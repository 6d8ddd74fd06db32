using System.Security.Cryptography;
using KataSharp.Runtime.Configuration;

namespace KataSharp.Tests.Integration.Infrastructure;

/// <summary>
/// What every test of this run shares: the build (binaries, guest image, busybox image), a private
/// state directory (<c>/run/katasharp-test-&lt;random&gt;</c>) that nothing else uses, and the
/// katasharp.yaml the library and the CLI both load, pointing at that state directory and at the
/// build's guest kernel and initrd. Nothing here touches a real install.
/// </summary>
public static class TestEnvironment
{
    /// <summary>The guard on every single VM operation (boot, create, wait...): generous, a hang guard only.</summary>
    public static readonly TimeSpan OperationTimeout = TimeSpan.FromSeconds(120);

    private static readonly Lazy<string> LazyBuild = new(FindBuild);
    private static readonly Lazy<string> LazyRoot = new(CreateRunDirectory);
    private static readonly Lazy<string> LazyWork = new(() => Directory.CreateTempSubdirectory("katasharp-test-work-").FullName);

    /// <summary>The build directory: $KATASHARP_BUILD, else the repo's build/ found by walking up from the test assembly.</summary>
    public static string BuildDirectory => LazyBuild.Value;

    public static string BinDirectory => Path.Combine(BuildDirectory, "bin");
    public static string GuestDirectory => Path.Combine(BuildDirectory, "guest");
    public static string CliPath => Path.Combine(BinDirectory, "katasharp");
    public static string BusyboxImage => Path.Combine(BuildDirectory, "images", "busybox.oci.tar");
    public static string KernelRelease => File.ReadAllText(Path.Combine(GuestDirectory, "kernel-release")).Trim();

    /// <summary>This run's runtime.stateDir: every sandbox, socket and mount of the run lives under it.</summary>
    public static string StateDirectory => LazyRoot.Value;

    /// <summary>The katasharp.yaml of this run (also passed to the CLI as $KATASHARP_CONFIG).</summary>
    public static string ConfigPath => Path.Combine(WorkDirectory, "katasharp.yaml");

    /// <summary>Scratch space for the tests' own files (rootfs copies, volumes); outside the state directory.</summary>
    public static string WorkDirectory => LazyWork.Value;

    /// <summary>This run's images.cacheDir: apart from the state directory, as the default /var/lib/katasharp/images is from /run.</summary>
    public static string ImageCacheDirectory => Path.Combine(WorkDirectory, "image-cache");

    /// <summary>The configuration the library tests use: the same file the CLI reads.</summary>
    public static KataSharpConfig LoadConfig() => new ConfigLoader().Load(ConfigPath).Config;

    /// <summary>A fresh scratch directory under <see cref="WorkDirectory"/>.</summary>
    public static string NewWorkDirectory(string prefix)
    {
        var path = Path.Combine(WorkDirectory, $"{prefix}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}");
        Directory.CreateDirectory(path);
        return path;
    }

    /// <summary>Fails with a clear message when the run cannot work at all (not root, no build).</summary>
    public static void RequirePrerequisites()
    {
        if (!Environment.IsPrivilegedProcess)
        {
            throw new InvalidOperationException("the integration tests boot VMs and bind-mount directories: run them as root");
        }

        foreach (var file in new[] { CliPath, Path.Combine(GuestDirectory, "vmlinux"), Path.Combine(GuestDirectory, "initrd.img"), BusyboxImage })
        {
            if (!File.Exists(file))
            {
                throw new InvalidOperationException($"{file} is missing: run ./build.sh build && ./build.sh image (or set KATASHARP_BUILD)");
            }
        }

        if (!File.Exists(ConfigPath))
        {
            WriteConfig();
        }
    }

    /// <summary>The default kernel's read-only root image; only our kernel has one.</summary>
    public static string RootImage => Path.Combine(GuestDirectory, "root.img");

    private static readonly object ConfigLock = new();

    private static void WriteConfig()
    {
        lock (ConfigLock)
        {
            if (File.Exists(ConfigPath))
            {
                return;
            }

            // Paths are quoted YAML scalars; the test paths have no quotes in them.
            var yaml = $"""
                hypervisor:
                  kernel: "{Path.Combine(GuestDirectory, "vmlinux")}"
                  initrd: "{Path.Combine(GuestDirectory, "initrd.img")}"
                  {(File.Exists(RootImage) ? $"image: \"{RootImage}\"" : "")}
                  bootTimeoutSeconds: 90
                guest:
                  kernel: {KataSharp.Tests.EndToEnd.BuiltGuestKernel.KindOf(GuestDirectory)}
                agent:
                  requestTimeoutSeconds: 60
                runtime:
                  stateDir: "{StateDirectory}"
                images:
                  cacheDir: "{ImageCacheDirectory}"
                """;
            File.WriteAllText(ConfigPath + ".tmp", yaml);
            File.Move(ConfigPath + ".tmp", ConfigPath);
        }
    }

    private static string FindBuild()
    {
        if (Environment.GetEnvironmentVariable("KATASHARP_BUILD") is { Length: > 0 } fromEnvironment)
        {
            return Path.GetFullPath(fromEnvironment);
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "build.sh")) && Directory.Exists(Path.Combine(dir.FullName, "build")))
            {
                return Path.Combine(dir.FullName, "build");
            }
        }

        throw new InvalidOperationException($"cannot find the build directory above {AppContext.BaseDirectory}; set KATASHARP_BUILD");
    }

    private static string CreateRunDirectory()
    {
        var path = $"/run/katasharp-test-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}";
        Directory.CreateDirectory(path);
        // Whatever happens to the run, the machine is left clean (the leak test reports leaks before this runs).
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Leftovers.CleanUp(path, WorkDirectory);
        return path;
    }
}

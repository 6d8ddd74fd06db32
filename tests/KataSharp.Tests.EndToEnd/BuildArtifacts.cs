namespace KataSharp.Tests.EndToEnd;

/// <summary>Where ./build.sh put the binaries, guest image and OCI images these tests drive.</summary>
public static class BuildArtifacts
{
    public static string Directory { get; } = Locate();

    public static string Bin => Path.Combine(Directory, "bin");

    public static string ShimBinary => Path.Combine(Bin, "containerd-shim-katasharp-v2");

    public static string BusyboxImage => Path.Combine(Directory, "images", "busybox.oci.tar");

    public static string PauseImage => Path.Combine(Directory, "images", "pause.oci.tar");

    public const string BusyboxRef = "docker.io/katasharp/busybox:latest";

    public const string PauseRef = "docker.io/katasharp/pause:latest";

    public static string GuestKernelRelease => File.ReadAllText(Path.Combine(Directory, "guest", "kernel-release")).Trim();

    private static string Locate()
    {
        if (Environment.GetEnvironmentVariable("KATASHARP_BUILD") is { Length: > 0 } fromEnv)
        {
            return fromEnv;
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "build");
            if (File.Exists(Path.Combine(candidate, "bin", "containerd-shim-katasharp-v2")))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException("no build/ directory with the shim: run ./build.sh build && ./build.sh image first");
    }
}

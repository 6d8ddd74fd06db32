namespace KataSharp.Tests.EndToEnd;

/// <summary>A containerd the end-to-end suite runs against: its binaries and the config version it reads.</summary>
/// <param name="Name">How test output names it.</param>
/// <param name="BinDirectory">Where containerd, ctr and containerd-shim-runc-v2 are.</param>
/// <param name="ConfigVersion">2 for containerd 1.x, 3 for 2.x.</param>
/// <param name="Tag">Keeps the state directory, bridge and subnet of each release's testbed apart.</param>
public sealed record ContainerdRelease(string Name, string BinDirectory, int ConfigVersion, int Tag)
{
    /// <summary>Debian bookworm's containerd 1.6, installed on the host.</summary>
    public static ContainerdRelease Bookworm { get; } = new("containerd 1.6 (bookworm)", "/usr/bin", 2, 0);

    /// <summary>Debian forky's containerd 2.x, which <c>./build.sh deps</c> unpacks into build/containerd-2.</summary>
    public static ContainerdRelease Forky => new("containerd 2.x (forky)", Path.Combine(BuildArtifacts.Directory, "containerd-2", "usr", "bin"), 3, 1);

    public string Containerd => Path.Combine(BinDirectory, "containerd");

    public string Ctr => Path.Combine(BinDirectory, "ctr");

    /// <summary>The first three octets of this release's testbed network, a /24.</summary>
    public string SubnetPrefix => $"10.214.{Tag}";

    /// <summary>Why this release cannot run here, or null.</summary>
    public string? MissingReason => File.Exists(Containerd) && File.Exists(Ctr)
        ? null
        : $"{Name} is not at {BinDirectory}: ./build.sh deps unpacks it";

    public override string ToString() => Name;
}

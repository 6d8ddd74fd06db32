using System.Text;
using KataSharp.Tests.Integration.Infrastructure;

namespace KataSharp.Tests.Integration.Footprint;

/// <summary>
/// Every published executable carries the gen0 cap of Directory.Build.targets in the NativeAOT settings the
/// runtime reads at start. Without the gen0 cap, a long-lived shim on a host with a large L3 cache grows by tens of
/// MiB of garbage before its first collection. The shim, one per pod for the pod's life, has its own smaller budget.
/// </summary>
public sealed class GcSettingsTests
{
    public static TheoryData<string, string, string> Executables => new()
    {
        { "containerd-shim-katasharp-v2", "100000", "1 MiB" },
        { "katasharp", "400000", "4 MiB" },
        { "katasharp-agent", "400000", "4 MiB" },
    };

    [Theory]
    [MemberData(nameof(Executables))]
    public void ThePublishedExecutable_EmbedsTheGen0Cap(string name, string hex, string size)
    {
        var binary = File.ReadAllBytes(Path.Combine(TestEnvironment.BinDirectory, name));

        // The settings blob holds each setting as its name and its value, each ended by a NUL.
        Assert.True(Contains(binary, $"\0GCgen0size\0{hex}\0"), $"{name} does not embed the {size} gen0 budget");
    }

    private static bool Contains(byte[] haystack, string needle) =>
        haystack.AsSpan().IndexOf(Encoding.ASCII.GetBytes(needle)) >= 0;
}

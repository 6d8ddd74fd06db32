using System.Text;
using KataSharp.Tests.Integration.Infrastructure;

namespace KataSharp.Tests.Integration.Footprint;

/// <summary>
/// Every published executable carries the gen0 cap of Directory.Build.targets in the NativeAOT settings the
/// runtime reads at start. Without the gen0 cap, a long-lived shim on a host with a large L3 cache grows by tens of
/// MiB of garbage before its first collection.
/// </summary>
public sealed class GcSettingsTests
{
    public static TheoryData<string> Executables => new() { "containerd-shim-katasharp-v2", "katasharp", "katasharp-agent" };

    [Theory]
    [MemberData(nameof(Executables))]
    public void ThePublishedExecutable_EmbedsTheGen0Cap(string name)
    {
        var binary = File.ReadAllBytes(Path.Combine(TestEnvironment.BinDirectory, name));

        // The settings blob holds each setting as its name and its value, each ended by a NUL.
        Assert.True(Contains(binary, "\0GCgen0size\0400000\0"), $"{name} does not embed the 4 MiB gen0 budget");
    }

    private static bool Contains(byte[] haystack, string needle) =>
        haystack.AsSpan().IndexOf(Encoding.ASCII.GetBytes(needle)) >= 0;
}

using KataSharp.Runtime.Containerd;

namespace KataSharp.Tests.Unit.Runtime;

public sealed class RuntimeEntryTests
{
    [Theory]
    [InlineData("containerd-katasharp.toml")]
    [InlineData("containerd-katasharp-v3.toml")]
    public void TheShippedFragments_PointAtTheInstalledShimAndConfig(string file)
    {
        var fragment = File.ReadAllText(Path.Combine(ConfigLoaderTests.RepoRoot(), "configs", file));
        var entry = RuntimeEntry.Render(fragment, "/opt/katasharp/bin/containerd-shim-katasharp-v2", "/opt/katasharp/etc/katasharp.yaml");
        Assert.Contains("runtime_path = \"/opt/katasharp/bin/containerd-shim-katasharp-v2\"", entry);
        Assert.Contains("ConfigPath = \"/opt/katasharp/etc/katasharp.yaml\"", entry);
        Assert.DoesNotContain(RuntimeEntry.DefaultConfigPath, entry);
        // runtime_path sits in the runtime's own table, right below runtime_type.
        var lines = entry.Split('\n');
        var type = Array.FindIndex(lines, l => l.TrimStart().StartsWith("runtime_type", StringComparison.Ordinal));
        Assert.StartsWith("runtime_path", lines[type + 1].TrimStart());
        Assert.True(RuntimeEntry.DeclaredAt(entry) > 0);
    }

    [Fact]
    public void PathsAreQuotedAsTomlStrings() =>
        Assert.Contains("runtime_path = \"/a \\\"b\\\"/shim\"", RuntimeEntry.Render("runtime_type = \"x\"\n", "/a \"b\"/shim", "/c"));

    [Fact]
    public void AConfigWithoutTheRuntime_DeclaresItNowhere() =>
        Assert.Equal(0, RuntimeEntry.DeclaredAt("[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]\n"));
}

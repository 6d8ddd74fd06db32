using System.Security.Cryptography;
using KataSharp.Agent.Init;
using KernelConfig = KataSharp.Runtime.Configuration.GuestKernelConfig;
using KataSharp.Tests.Unit.Runtime;

namespace KataSharp.Tests.Unit.GuestImage;

/// <summary>
/// Our guest kernel holds what the runtime relies on: the fragment asks for it, Kconfig kept it (checked against the
/// .config that ./build.sh image built, which runs before the tests in ./build.sh test), and the agent's boot check
/// asks only for what the fragment gives.
/// </summary>
public sealed class GuestKernelConfigTests
{
    internal static string FragmentPath => Path.Combine(ConfigLoaderTests.RepoRoot(), "guest-image", "kernel", "katasharp.config");

    [BuiltGuestKernelFact]
    public void Every_option_of_the_fragment_is_set_as_asked_in_the_built_kernel()
    {
        var built = KernelConfig.Parse(File.ReadAllText(BuiltGuestKernelFactAttribute.ConfigPath));
        var wrong = KernelConfig.Parse(File.ReadAllText(FragmentPath))
            .Where(o => built.GetValueOrDefault(o.Key, "n") != o.Value)
            .Select(o => $"{o.Key}: asked {o.Value}, built {built.GetValueOrDefault(o.Key, "n")}")
            .ToList();
        Assert.True(wrong.Count == 0, "the built kernel differs from guest-image/kernel/katasharp.config:\n" + string.Join('\n', wrong));
        Assert.Equal("n", built.GetValueOrDefault("CONFIG_MODULES", "n"));
    }

    [Fact]
    public void The_fragment_gives_every_option_the_agent_requires_at_boot()
    {
        var fragment = KernelConfig.Parse(File.ReadAllText(FragmentPath));
        var absent = KernelRequirements.All.Select(r => r.ConfigOption).Distinct()
            .Where(option => fragment.GetValueOrDefault(option) != "y")
            .ToList();
        Assert.True(absent.Count == 0, "the agent requires options the fragment does not set to y: " + string.Join(", ", absent));
    }

    [Fact]
    public void The_fragment_builds_everything_in()
    {
        var fragment = KernelConfig.Parse(File.ReadAllText(FragmentPath));
        Assert.DoesNotContain(fragment, o => o.Value == "m");
        Assert.Equal("y", fragment["CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES"]);
        Assert.Equal("y", fragment["CONFIG_PVH"]);
    }

    [Fact]
    public void Kernel_config_parsing_reads_set_and_unset_options()
    {
        var parsed = KernelConfig.Parse("# comment\nCONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=\"-x\"\n\nCONFIG_D=64\n");
        Assert.Equal(new Dictionary<string, string> { ["CONFIG_A"] = "y", ["CONFIG_B"] = "n", ["CONFIG_C"] = "\"-x\"", ["CONFIG_D"] = "64" }, parsed);
    }
}

/// <summary>
/// A fact about the kernel that ./build.sh image built (build/guest/katasharp/kernel.config, or $KATASHARP_BUILD's).
/// Without that build, or with a build from another fragment, it is reported as skipped with the reason.
/// </summary>
public sealed class BuiltGuestKernelFactAttribute : FactAttribute
{
    public static string BuildDirectory =>
        Environment.GetEnvironmentVariable("KATASHARP_BUILD") is { Length: > 0 } build ? build : Path.Combine(ConfigLoaderTests.RepoRoot(), "build");

    public static string ConfigPath => Path.Combine(BuildDirectory, "guest", "katasharp", "kernel.config");

    private static string ManifestPath => Path.Combine(BuildDirectory, "guest", "katasharp", "manifest.json");

    public BuiltGuestKernelFactAttribute()
    {
        if (!File.Exists(ConfigPath))
        {
            Skip = $"needs our built guest kernel ({ConfigPath}); ./build.sh image builds it";
            return;
        }

        var fragmentSha = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(GuestKernelConfigTests.FragmentPath)));
        if (!File.Exists(ManifestPath) || !File.ReadAllText(ManifestPath).Contains($"\"fragmentSha256\": \"{fragmentSha}\"", StringComparison.Ordinal))
        {
            Skip = $"the kernel in {BuildDirectory}/guest/katasharp was built from another katasharp.config than this one (sha256 {fragmentSha}); ./build.sh image rebuilds it";
        }
    }
}

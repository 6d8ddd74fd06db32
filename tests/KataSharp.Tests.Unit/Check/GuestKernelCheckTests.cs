using KataSharp.Agent.Init;
using KataSharp.Cli.Check;
using KataSharp.Runtime.Configuration;
using KataSharp.Tests.Unit.Runtime;
using Xunit;

namespace KataSharp.Tests.Unit.Check;

/// <summary>katasharp check reads the guest kernel's config from beside the kernel and names each option it lacks.</summary>
public sealed class GuestKernelCheckTests
{
    private const string Kernel = "/usr/share/katasharp/guest/katasharp/vmlinux";
    private const string ConfigPath = "/usr/share/katasharp/guest/katasharp/kernel.config";

    private static string ConfigWith(Func<GuestKernelConfig.Option, string> value) =>
        "# Linux/x86 6.1 Kernel Configuration\n" + string.Concat(GuestKernelConfig.Required.Select(o => value(o) == "n" ? $"# {o.Name} is not set\n" : $"{o.Name}={value(o)}\n"));

    [Fact]
    public void A_config_with_every_option_built_in_or_as_a_module_passes()
    {
        var config = ConfigWith(o => o.Name == "CONFIG_9P_FS" ? "m" : "y");

        var result = GuestKernelCheck.Options(Kernel, path => path == ConfigPath ? config : null);

        Assert.Equal(CheckResult.Ok, result.Level);
        Assert.Contains(ConfigPath, result.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void A_config_missing_an_option_fails_and_names_it()
    {
        // One unset, one absent altogether: both are missing.
        var config = ConfigWith(o => o.Name == "CONFIG_MEMCG" ? "n" : "y").Replace("CONFIG_VIRTIO_NET=y\n", "", StringComparison.Ordinal);

        var result = GuestKernelCheck.Options(Kernel, path => path == ConfigPath ? config : null);

        Assert.Equal(CheckResult.Fail, result.Level);
        Assert.Contains("CONFIG_MEMCG (the memory controller", result.Detail, StringComparison.Ordinal);
        Assert.Contains("CONFIG_VIRTIO_NET (", result.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain("CONFIG_CPUSETS", result.Detail, StringComparison.Ordinal);
        Assert.Equal(["CONFIG_VIRTIO_NET", "CONFIG_MEMCG"], GuestKernelConfig.Missing(GuestKernelConfig.Parse(config)).Select(o => o.Name));
    }

    [Fact]
    public void Without_a_config_beside_the_kernel_it_warns_instead_of_guessing()
    {
        var result = GuestKernelCheck.Options(Kernel, _ => null);

        Assert.Equal(CheckResult.Warn, result.Level);
        Assert.Contains(ConfigPath, result.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_option_the_agent_checks_at_boot_is_among_those_checked_on_the_host()
    {
        var hostChecked = GuestKernelConfig.Required.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);

        var missing = KernelRequirements.All.Select(r => r.ConfigOption).Where(o => !hostChecked.Contains(o)).ToList();
        Assert.True(missing.Count == 0, "the agent requires options katasharp check does not look for: " + string.Join(", ", missing));
    }

    [Fact]
    public void Our_kernel_fragment_sets_every_option_the_runtime_relies_on()
    {
        var fragment = GuestKernelConfig.Parse(File.ReadAllText(Path.Combine(ConfigLoaderTests.RepoRoot(), "guest-image", "kernel", "katasharp.config")));

        Assert.Empty(GuestKernelConfig.Missing(fragment));
    }
}

using KataSharp.Tests.Integration.Infrastructure;

namespace KataSharp.Tests.Integration.Cli;

/// <summary>The README's demo: the command runs in a VM with its own kernel, not the host's.</summary>
public sealed class CliDemoTests
{
    [Fact]
    public async Task The_demo_prints_the_guest_kernel_not_the_host_kernel()
    {
        var result = await KatasharpCli.RunAsync("run", "--", "sh", "-c", "uname -a; cat /proc/version");

        Assert.True(result.ExitCode == 0, result.ToString());
        var lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        var guestRelease = TestEnvironment.KernelRelease;
        var hostRelease = File.ReadAllText("/proc/sys/kernel/osrelease").Trim();
        Assert.NotEqual(hostRelease, guestRelease);

        // uname -a: "Linux <hostname> <release> <version> x86_64 GNU/Linux"
        var uname = lines[0].Split(' ');
        Assert.Equal("Linux", uname[0]);
        Assert.Equal(guestRelease, uname[2]);
        Assert.StartsWith($"Linux version {guestRelease} ", lines[1], StringComparison.Ordinal);
        Assert.DoesNotContain(hostRelease, result.Stdout, StringComparison.Ordinal);
        CliAssert.NoSandboxes();
    }
}

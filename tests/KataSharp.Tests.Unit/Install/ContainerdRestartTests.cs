using KataSharp.Cli;
using KataSharp.Cli.Install;

namespace KataSharp.Tests.Unit.Install;

public sealed class ContainerdRestartTests
{
    private static ContainerdRestart Plan(string mode, string? command = null, bool systemdHere = false, string? pid1 = null) =>
        ContainerdRestart.Plan(mode, command, "containerd", p => systemdHere && p == "/run/systemd/system", () => pid1);

    [Fact]
    public void Auto_UsesSystemctlOnASystemdHost() =>
        Assert.Equal(["systemctl", "restart", "containerd"], Plan("auto", systemdHere: true, pid1: "systemd").Command);

    [Fact]
    public void Auto_InAPodWithHostPid_UsesTheHostsSystemctlThroughNsenter()
    {
        var command = Plan("auto", pid1: "systemd").Command;
        // Short options: busybox nsenter (the payload image's) has no long ones.
        Assert.Equal(["nsenter", "-t", "1", "-m", "--", "systemctl", "restart", "containerd"], command);
    }

    [Fact]
    public void Auto_WithoutSystemd_RestartsNothingAndSaysSo()
    {
        var plan = Plan("auto", pid1: "sh");
        Assert.Empty(plan.Command);
        Assert.Contains("restart containerd", plan.Description);
    }

    [Fact]
    public void AGivenCommand_WinsOverTheMode() =>
        Assert.Equal(["/bin/sh", "-c", "rc-service containerd restart"], Plan("systemd", "rc-service containerd restart").Command);

    [Fact]
    public void None_RestartsNothing() => Assert.Empty(Plan("none", systemdHere: true).Command);

    [Fact]
    public void AnUnknownMode_IsAUsageError() => Assert.Contains("auto, systemd", Assert.Throws<UsageException>(() => Plan("reboot")).Message);

    [Fact]
    public async Task AFailingRestart_IsAnInstallErrorWithTheOutput()
    {
        var plan = Plan("auto", "echo no such unit >&2; exit 5");
        var error = await Assert.ThrowsAsync<InstallException>(() => plan.RunAsync(TextWriter.Null, CancellationToken.None));
        Assert.Contains("exit code 5", error.Message);
        Assert.Contains("no such unit", error.Message);
    }
}

using KataSharp.Tests.Integration.Infrastructure;

namespace KataSharp.Tests.Integration.Cli;

/// <summary>Bad input to katasharp run is refused with exit code 125 and a message naming the problem, and leaves nothing behind.</summary>
public sealed class CliBadInputTests
{
    private const int RuntimeError = 125;

    /// <summary>docker run's status for a command the container does not have.</summary>
    private const int CommandNotFound = 127;

    [Theory]
    [InlineData("--rootfs=/nonexistent/katasharp-rootfs", "is not a directory")]
    [InlineData("-v=/nonexistent/katasharp-volume:/data", "volume source /nonexistent/katasharp-volume does not exist")]
    [InlineData("-v=/tmp:relative/path", "the container path must be absolute")]
    [InlineData("-v=/tmp:/data:rx", "unknown option 'rx'")]
    [InlineData("--memory=lots", "'lots' is not a size")]
    public async Task Invalid_options_are_refused_before_a_VM_starts(string option, string message)
    {
        var id = CliAssert.NewId("bad");
        var (name, value) = (option[..option.IndexOf('=')], option[(option.IndexOf('=') + 1)..]);

        var result = await KatasharpCli.RunAsync("run", "--name", id, name, value, "--", "true");

        Assert.True(result.ExitCode == RuntimeError, result.ToString());
        Assert.StartsWith("katasharp: ", result.Stderr, StringComparison.Ordinal);
        Assert.Contains(message, result.Stderr, StringComparison.Ordinal);
        Assert.Empty(result.StdoutBytes);
        CliAssert.NoTraceOf(id);
    }

    [Fact]
    public async Task A_rootfs_without_the_command_fails_after_boot_and_the_VM_is_removed()
    {
        var rootfs = TestEnvironment.NewWorkDirectory("empty-rootfs");
        var id = CliAssert.NewId("norun");

        var result = await KatasharpCli.RunAsync("run", "--name", id, "--rootfs", rootfs, "--", "/bin/no-such-command");

        Assert.True(result.ExitCode == CommandNotFound, result.ToString());
        Assert.Contains("/bin/no-such-command", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("not found", result.Stderr, StringComparison.Ordinal);
        Assert.Empty(result.StdoutBytes);
        CliAssert.NoTraceOf(id);
        // The caller's rootfs is no longer mounted anywhere (crun may have created mount-point directories in it, as runc does).
        Assert.Empty(Leftovers.MountPointsUnder(rootfs));
    }
}

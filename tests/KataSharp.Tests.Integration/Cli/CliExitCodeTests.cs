using KataSharp.Tests.Integration.Infrastructure;

namespace KataSharp.Tests.Integration.Cli;

/// <summary>katasharp run exits with the job's exit code, keeps its stdout and stderr apart, and gives docker's 127 and 126 for a command that cannot start.</summary>
public sealed class CliExitCodeTests
{
    [Fact]
    public async Task Run_exits_with_the_jobs_exit_code()
    {
        var id = CliAssert.NewId("exit");
        var result = await KatasharpCli.RunAsync("run", "--name", id, "--", "sh", "-c", "echo to-stdout; echo to-stderr >&2; exit 3");

        Assert.True(result.ExitCode == 3, result.ToString());
        Assert.Equal("to-stdout\n", result.Stdout);
        Assert.Contains("to-stderr\n", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("to-stderr", result.Stdout, StringComparison.Ordinal);
        CliAssert.NoTraceOf(id);
    }

    [Fact]
    public async Task Run_exits_127_for_a_missing_command_and_126_for_one_that_cannot_run()
    {
        var missing = CliAssert.NewId("e127");
        var notFound = await KatasharpCli.RunAsync("run", "--name", missing, "--", "no-such-command");

        Assert.True(notFound.ExitCode == 127, notFound.ToString());
        Assert.Contains("exec: \"no-such-command\": executable file not found in $PATH", notFound.Stderr, StringComparison.Ordinal);
        CliAssert.NoTraceOf(missing);

        // A regular file without the x bit: it exists, so not 127.
        var plain = CliAssert.NewId("e126");
        var notExecutable = await KatasharpCli.RunAsync("run", "--name", plain, "--", "/etc/passwd");

        Assert.True(notExecutable.ExitCode == 126, notExecutable.ToString());
        Assert.Contains("exec: \"/etc/passwd\": permission denied", notExecutable.Stderr, StringComparison.Ordinal);
        CliAssert.NoTraceOf(plain);
    }
}

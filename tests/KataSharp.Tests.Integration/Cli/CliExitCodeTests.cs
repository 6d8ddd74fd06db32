using KataSharp.Tests.Integration.Infrastructure;

namespace KataSharp.Tests.Integration.Cli;

/// <summary>katasharp run exits with the job's exit code, and keeps its stdout and stderr apart.</summary>
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
}

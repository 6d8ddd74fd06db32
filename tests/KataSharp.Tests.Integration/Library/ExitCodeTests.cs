using KataSharp.Tests.Integration.Infrastructure;

namespace KataSharp.Tests.Integration.Library;

/// <summary>A container's exit status reaches the host as the process gave it, or as 128 + the signal.</summary>
[Collection(SharedSandboxCollection.Name)]
public sealed class ExitCodeTests(SharedSandboxFixture fixture)
{
    [Fact]
    public async Task A_command_that_succeeds_exits_0()
    {
        var (exit, stdout, _) = await fixture.RunAsync("exit0", "sh", "-c", "echo fine");

        Assert.Equal(0, exit.ExitCode);
        Assert.False(exit.OomKilled);
        Assert.Equal("fine\n", stdout);
    }

    [Fact]
    public async Task A_nonzero_exit_status_is_passed_through_with_stdout_and_stderr_apart()
    {
        var (exit, stdout, stderr) = await fixture.RunAsync("exit3", "sh", "-c", "echo to-stdout; echo to-stderr >&2; exit 3");

        Assert.Equal(3, exit.ExitCode);
        Assert.Equal("to-stdout\n", stdout);
        Assert.Equal("to-stderr\n", stderr);
    }

    [Fact]
    public async Task SIGKILL_to_the_container_init_gives_137()
    {
        await using var container = await fixture.StartAsync("sigkill", ["sh", "-c", "echo ready; exec sleep 1000"]);
        await container.Output.Stdout.WaitForAsync("ready");

        using var timeout = new CancellationTokenSource(TestEnvironment.OperationTimeout);
        await container.Init.SignalAsync(9, all: false, timeout.Token);
        var exit = await container.WaitAsync();

        Assert.Equal(137, exit.ExitCode);
        Assert.False(exit.OomKilled);
    }
}

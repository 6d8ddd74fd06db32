using KataSharp.Runtime.Sandbox;
using KataSharp.Tests.Integration.Infrastructure;

namespace KataSharp.Tests.Integration.Library;

/// <summary>A process exec'd into a running container runs in its namespaces, and its exit and output come back on their own.</summary>
[Collection(SharedSandboxCollection.Name)]
public sealed class ExecTests(SharedSandboxFixture fixture)
{
    [Fact]
    public async Task An_exec_returns_its_own_exit_code_and_output_and_sees_the_container()
    {
        await using var container = await fixture.StartAsync("exec", ["sh", "-c", "echo marker > /tmp/marker; echo ready; exec sleep 1000"]);
        await container.Output.Stdout.WaitForAsync("ready");
        using var timeout = new CancellationTokenSource(TestEnvironment.OperationTimeout);

        var process = DefaultSpec.Process(new SpecOptions
        {
            Args = ["sh", "-c", "echo from-exec; cat /tmp/marker; tr '\\0' ' ' < /proc/1/cmdline; echo; echo oops >&2; exit 7"],
        });
        var exec = await container.Container.ExecAsync("exec-1", process, stdin: false, terminal: false, timeout.Token);
        await using var output = OutputCapture.Start(exec);
        var exit = await exec.WaitAsync(timeout.Token);
        await output.DrainAsync();

        Assert.Equal(7, exit.ExitCode);
        // It shares the container's rootfs and PID namespace: PID 1 is the container's sleep.
        Assert.Equal("from-exec\nmarker\nsleep 1000 \n", output.Stdout.Text);
        Assert.Equal("oops\n", output.Stderr.Text);

        // The exec ending does not end the container.
        var processes = await fixture.Sandbox.Agent.ListProcessesAsync(container.Id, timeout.Token);
        Assert.Contains(processes, p => p.Pid == container.Container.GuestPid && p.Command.StartsWith("sleep", StringComparison.Ordinal));
    }
}

using KataSharp.Tests.Integration.Infrastructure;

namespace KataSharp.Tests.Integration.Cli;

/// <summary>A detached sandbox outlives katasharp run and is driven by exec, ps, kill and rm -f, which removes every trace of it.</summary>
public sealed class CliDetachedSandboxTests
{
    [Fact]
    public async Task Exec_ps_kill_and_rm_drive_a_detached_sandbox()
    {
        var id = CliAssert.NewId("detached");
        try
        {
            var run = await KatasharpCli.RunAsync("run", "-d", "--name", id, "--", "sh", "-c", "echo started > /tmp/started; exec sleep 1000");
            Assert.True(run.ExitCode == 0, run.ToString());
            Assert.Equal(id + "\n", run.Stdout);
            Assert.Single(Leftovers.QemuProcesses(Path.Combine(TestEnvironment.StateDirectory, "sandboxes", id)));

            var list = await KatasharpCli.RunAsync("ps");
            Assert.True(list.ExitCode == 0, list.ToString());
            Assert.Contains(list.Stdout.Split('\n'), line => line.StartsWith(id + " ", StringComparison.Ordinal) && line.Contains("running", StringComparison.Ordinal));

            var exec = await KatasharpCli.RunAsync("exec", id, "--", "sh", "-c", "cat /tmp/started; echo in-exec; exit 4");
            Assert.True(exec.ExitCode == 4, exec.ToString());
            Assert.Equal("started\nin-exec\n", exec.Stdout);

            var execStdin = await KatasharpCli.RunAsync(["exec", "-i", id, "--", "sh", "-c", "cat; echo end"], "piped\n"u8.ToArray());
            Assert.True(execStdin.ExitCode == 0, execStdin.ToString());
            Assert.Equal("piped\nend\n", execStdin.Stdout);

            var processes = await KatasharpCli.RunAsync("ps", id);
            Assert.True(processes.ExitCode == 0, processes.ToString());
            Assert.Contains("sleep 1000", processes.Stdout, StringComparison.Ordinal);

            var kill = await KatasharpCli.RunAsync("kill", id);
            Assert.True(kill.ExitCode == 0, kill.ToString());
            await WaitUntilGoneAsync(id, "sleep 1000");
        }
        finally
        {
            var rm = await KatasharpCli.RunAsync("rm", "-f", id);
            Assert.True(rm.ExitCode == 0, rm.ToString());
            Assert.Equal(id + "\n", rm.Stdout);
        }

        CliAssert.NoTraceOf(id);
    }

    /// <summary>SIGKILL is asynchronous: polls ps until the container's init is gone.</summary>
    private static async Task WaitUntilGoneAsync(string id, string command)
    {
        using var timeout = new CancellationTokenSource(TestEnvironment.OperationTimeout);
        while (true)
        {
            var ps = await KatasharpCli.RunAsync("ps", id);
            if (ps.ExitCode == 0 && !ps.Stdout.Contains(command, StringComparison.Ordinal))
            {
                return;
            }

            if (timeout.IsCancellationRequested)
            {
                throw new TimeoutException($"'{command}' still runs in {id} after katasharp kill: {ps}");
            }

            await Task.Delay(500);
        }
    }
}

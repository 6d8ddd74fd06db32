using KataSharp.Runtime.Network;
using KataSharp.Tests.Unit.Native;

namespace KataSharp.Tests.Unit.Network;

/// <summary>The real runner: the native spawner with captured output, a timeout, and the network namespace entered with setns.</summary>
public sealed class NetnsCommandRunnerTests
{
    [Fact]
    public async Task Captures_exit_code_stdout_and_stderr_untranslated()
    {
        var result = await NetnsCommandRunner.Default.RunAsync(null, ["sh", "-c", "echo out; echo \"err $LC_ALL\" >&2; read x || echo no-stdin; exit 3"], CancellationToken.None);

        Assert.Equal(new CommandResult(3, "out\nno-stdin\n", "err C\n"), result);
    }

    [Fact]
    public async Task A_flood_past_the_bound_is_cut_and_the_command_still_completes()
    {
        var runner = new NetnsCommandRunner(TimeSpan.FromMinutes(2));
        var flood = NetnsCommandRunner.MaxCapturedBytes + (6 * 1024 * 1024);

        var result = await runner.RunAsync(null, ["sh", "-c", $"head -c {flood} /dev/zero; echo tail >&2"], CancellationToken.None);

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("tail\n", result.Stderr);
        Assert.EndsWith($"\n[output cut: {flood - NetnsCommandRunner.MaxCapturedBytes} more bytes dropped past {NetnsCommandRunner.MaxCapturedBytes}]", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_command_past_its_timeout_is_killed_and_reported()
    {
        var runner = new NetnsCommandRunner(TimeSpan.FromMilliseconds(200));

        var e = await Assert.ThrowsAsync<NetworkException>(() => runner.RunAsync(null, ["sleep", "60"], CancellationToken.None));

        Assert.Contains("did not finish", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_tool_is_a_failed_precondition()
    {
        var e = await Assert.ThrowsAsync<NetworkException>(() => NetnsCommandRunner.Default.RunAsync(null, ["no-such-tool-ks"], CancellationToken.None));

        Assert.Equal(NetworkErrorKind.FailedPrecondition, e.Kind);
    }

    [RootFact("/usr/sbin/ip")]
    public async Task Runs_inside_the_namespace_and_a_missing_namespace_is_a_failed_command()
    {
        var name = $"ks-runner-{Environment.ProcessId}";
        Assert.True((await NetnsCommandRunner.Default.RunAsync(null, ["ip", "netns", "add", name], CancellationToken.None)).Succeeded);
        try
        {
            var ours = File.ResolveLinkTarget("/proc/self/ns/net", false)!.Name;

            var theirs = await NetnsCommandRunner.Default.RunAsync($"/var/run/netns/{name}", ["readlink", "/proc/self/ns/net"], CancellationToken.None);

            Assert.True(theirs.Succeeded, theirs.Stderr);
            Assert.StartsWith("net:[", theirs.Stdout, StringComparison.Ordinal);
            Assert.NotEqual(ours, theirs.Stdout.Trim());
            Assert.Equal(ours, File.ResolveLinkTarget("/proc/thread-self/ns/net", false)!.Name);
        }
        finally
        {
            await NetnsCommandRunner.Default.RunAsync(null, ["ip", "netns", "del", name], CancellationToken.None);
        }

        var gone = await NetnsCommandRunner.Default.RunAsync($"/var/run/netns/{name}", ["true"], CancellationToken.None);
        Assert.False(gone.Succeeded);
        Assert.True(UndoStep.MeansAlreadyGone(gone.Stderr), gone.Stderr);
    }
}

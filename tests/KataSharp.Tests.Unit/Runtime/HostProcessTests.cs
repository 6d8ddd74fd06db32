using KataSharp.Runtime.HostTools;

namespace KataSharp.Tests.Unit.Runtime;

public sealed class HostProcessTests
{
    private static readonly TimeSpan Generous = TimeSpan.FromMinutes(2);

    [Fact]
    public async Task Both_streams_are_captured_with_the_exit_code()
    {
        var result = await HostProcess.RunAsync("sh", ["-c", "echo out; echo err >&2; exit 4"], Generous, CancellationToken.None);

        Assert.Equal(4, result.ExitCode);
        Assert.Equal("out\n", result.Stdout.Text());
        Assert.Equal("err\n", result.Stderr.Text());
        Assert.Equal("out\nerr\n", result.Output);
    }

    [Fact]
    public async Task A_flood_past_the_bound_is_cut_on_both_streams_and_the_program_still_completes()
    {
        const int Limit = 128 * 1024;
        const int Flood = 10 * 1024 * 1024;

        var result = await HostProcess.RunAsync("sh", ["-c", $"head -c {Flood} /dev/zero; head -c {Flood} /dev/zero >&2; echo done >&2"], Generous,
            CancellationToken.None, Limit);

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(Flood - Limit, result.Stdout.Dropped);
        Assert.Equal(Flood + "done\n".Length - Limit, result.Stderr.Dropped);
        Assert.Contains($"[output cut: {Flood - Limit} more bytes dropped past {Limit}]", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_program_past_its_timeout_is_killed_and_reported()
    {
        var e = await Assert.ThrowsAsync<TimeoutException>(() => HostProcess.RunAsync("sleep", ["60"], TimeSpan.FromMilliseconds(200), CancellationToken.None));

        Assert.Contains("sleep 60 did not finish", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_program_does_not_start() =>
        await Assert.ThrowsAsync<System.ComponentModel.Win32Exception>(() => HostProcess.RunAsync("/no/such/tool-ks", [], Generous, CancellationToken.None));
}

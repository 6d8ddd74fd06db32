using System.Globalization;
using KataSharp.Runtime.Hypervisors;
using KataSharp.Tests.Unit.Native;
using Xunit;

namespace KataSharp.Tests.Unit.Runtime;

public sealed class DetachedProcessTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ks-spawn-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Spawns_in_a_new_session_with_output_in_the_log_and_reaps_the_exit_code()
    {
        var log = Path.Combine(_dir, "vmm.log");
        var pid = DetachedProcess.Spawn("/bin/sh", ["-c", "echo out; echo err >&2; read line || echo stdin-is-empty; cut -d' ' -f6 /proc/self/stat; exit 3"], log);
        var status = await ProcessExitWatcher.WaitForChildAsync(pid, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(new ProcessExitStatus(3, null), status);
        var lines = File.ReadAllLines(log);
        Assert.Equal(["out", "err", "stdin-is-empty"], lines[..3]);
        // Field 6 of /proc/self/stat is the session id: a session leader's own pid (the sh -c process execs cut, same pid).
        Assert.Equal(pid.ToString(CultureInfo.InvariantCulture), lines[3]);
    }

    [Fact]
    public async Task Reports_death_by_signal()
    {
        var pid = DetachedProcess.Spawn("/bin/sh", ["-c", "kill -9 $$"], Path.Combine(_dir, "k.log"));
        var status = await ProcessExitWatcher.WaitForChildAsync(pid, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(new ProcessExitStatus(null, 9), status);
    }

    [RootFact("/usr/sbin/ip")]
    public async Task Starts_inside_a_network_namespace_and_leaves_ours_alone()
    {
        var name = $"kstest-{Environment.ProcessId}";
        Assert.Equal(0, await Run("/usr/sbin/ip", "netns", "add", name));
        try
        {
            var log = Path.Combine(_dir, "ns.log");
            var ours = File.ResolveLinkTarget("/proc/self/ns/net", false)!.Name;
            var pid = DetachedProcess.Spawn("/bin/sh", ["-c", "readlink /proc/self/ns/net"], log, $"/var/run/netns/{name}");
            await ProcessExitWatcher.WaitForChildAsync(pid, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
            var theirs = File.ReadAllText(log).Trim();
            Assert.StartsWith("net:[", theirs, StringComparison.Ordinal);
            Assert.NotEqual(ours, theirs);
            Assert.Equal(ours, File.ResolveLinkTarget("/proc/self/ns/net", false)!.Name);
        }
        finally
        {
            await Run("/usr/sbin/ip", "netns", "del", name);
        }

        Assert.Throws<HypervisorException>(() => DetachedProcess.Spawn("/bin/true", [], Path.Combine(_dir, "x.log"), "/var/run/netns/does-not-exist"));
    }

    private static async Task<int> Run(string file, params string[] args)
    {
        using var process = System.Diagnostics.Process.Start(file, args);
        await process.WaitForExitAsync();
        return process.ExitCode;
    }

    [Fact]
    public void A_missing_executable_is_a_clear_error()
    {
        var e = Assert.Throws<HypervisorException>(() => DetachedProcess.Spawn("/nonexistent/qemu", [], Path.Combine(_dir, "x.log")));
        Assert.Contains("/nonexistent/qemu", e.Message, StringComparison.Ordinal);
    }
}

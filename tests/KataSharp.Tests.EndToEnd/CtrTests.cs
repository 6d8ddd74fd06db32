using System.Diagnostics;

namespace KataSharp.Tests.EndToEnd;

/// <summary>
/// containerd users: `ctr run --runtime io.containerd.katasharp.v2` and the task commands, on each
/// containerd release (the classes below).
/// </summary>
public abstract class CtrTests
{
    private const string Runtime = "io.containerd.katasharp.v2";
    private static readonly TimeSpan VmTimeout = TimeSpan.FromMinutes(2);
    private readonly ContainerdFixture _containerd;

    protected CtrTests(ContainerdFixture containerd) => _containerd = containerd;

    private Task<(int ExitCode, string Stdout, string Stderr)> Ctr(params string[] args) => _containerd.Daemon.CtrAsync(args, VmTimeout);

    private static string NewId(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 9)];

    [ContainerdFact]
    public async Task Run_PrintsTheGuestKernel_AndPropagatesExitCodes()
    {
        var id = NewId("uname");
        var (code, stdout, stderr) = await Ctr("run", "--rm", "--runtime", Runtime, BuildArtifacts.BusyboxRef, id, "uname", "-r");
        Assert.True(code == 0, stderr);
        Assert.Equal(BuildArtifacts.GuestKernelRelease, stdout.Trim());
        Assert.NotEqual(File.ReadAllText("/proc/sys/kernel/osrelease").Trim(), stdout.Trim());

        var (exit3, out3, err3) = await Ctr("run", "--rm", "--runtime", Runtime, BuildArtifacts.BusyboxRef, NewId("exit"), "sh", "-c", "echo to-out; echo to-err >&2; exit 3");
        Assert.Equal(3, exit3);
        Assert.Equal("to-out", out3.Trim());
        Assert.Contains("to-err", err3);
        await CriTests.AssertNothingLeftAsync(_containerd, "");
    }

    [ContainerdFact]
    public async Task DetachedTask_SurvivesTaskLs_ServesExecPsMetrics_ThenIsKilledAndDeleted()
    {
        var id = NewId("detached");
        var (code, _, stderr) = await Ctr("run", "-d", "--runtime", Runtime, BuildArtifacts.BusyboxRef, id, "sh", "-c", "head -c 8m /dev/zero > /dev/shm/fill && touch /dev/shm/filled; sleep 1000");
        Assert.True(code == 0, stderr);
        try
        {
            var (_, list, _) = await Ctr("task", "ls");
            Assert.Matches($@"{id}\s+\d+\s+RUNNING", list);
            var qemuPid = int.Parse(System.Text.RegularExpressions.Regex.Match(list, $@"{id}\s+(\d+)").Groups[1].Value);
            Assert.Contains("qemu-system", File.ReadAllText($"/proc/{qemuPid}/cmdline"));
            AssertTaskApiVersion(id);

            var (execCode, execOut, _) = await Ctr("task", "exec", "--exec-id", "e1", id, "sh", "-c", "echo from-exec; exit 5");
            Assert.Equal(5, execCode);
            Assert.Equal("from-exec", execOut.Trim());

            var (psCode, ps, psErr) = await Ctr("task", "ps", id);
            Assert.True(psCode == 0, psErr);
            Assert.Matches(@"(?m)^\d+\s", ps.Split('\n', 2)[1]);

            // The 8 MiB in /dev/shm is charged to the container's memory cgroup in the guest, once written:
            // the container marks the end of the write, and this exec waits in the guest for the mark.
            var (filledCode, _, filledErr) = await Ctr("task", "exec", "--exec-id", "filled", id, "sh", "-c",
                "for i in $(seq 900); do [ -e /dev/shm/filled ] && exit 0; sleep 0.1; done; exit 1");
            Assert.True(filledCode == 0, "the container did not finish writing /dev/shm/fill: " + filledErr);
            var (metricsCode, metrics, metricsErr) = await Ctr("task", "metrics", id);
            Assert.True(metricsCode == 0, metricsErr);
            var usage = System.Text.RegularExpressions.Regex.Match(metrics, @"memory\.usage\s+(\d+)");
            Assert.True(usage.Success, metrics);
            Assert.True(long.Parse(usage.Groups[1].Value) > 8L << 20, metrics);

            var (killCode, _, killErr) = await Ctr("task", "kill", "-s", "SIGKILL", id);
            Assert.True(killCode == 0, killErr);
            Assert.True(await HostResources.EventuallyAsync(() => Ctr("task", "ls").Result.Stdout.Contains("STOPPED"), VmTimeout));
            var (deleteCode, _, deleteErr) = await Ctr("task", "delete", id);
            Assert.True(deleteCode == 0, deleteErr);
        }
        finally
        {
            await Ctr("task", "delete", "-f", id);
            await Ctr("container", "rm", id);
        }

        await CriTests.AssertNothingLeftAsync(_containerd, "");
    }

    [ContainerdFact]
    public async Task RunWithTty_GivesTheProcessATerminalOfTheClientsSize()
    {
        var id = NewId("tty");
        // script(1) gives ctr the terminal it needs for -t; its size is what ctr forwards with ResizePty.
        var ctr = $"{_containerd.Release.Ctr} --address {_containerd.Daemon.Address} run --rm -t --runtime {Runtime} {BuildArtifacts.BusyboxRef} {id} sh -c 'tty; stty size; exit 4'";
        var start = new ProcessStartInfo("script", ["-qec", $"stty rows 40 cols 100; {ctr}", "/dev/null"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        using var script = Process.Start(start)!;
        var output = script.StandardOutput.ReadToEndAsync();
        Assert.True(script.WaitForExit(VmTimeout), "ctr run -t did not finish");
        var text = await output;
        Assert.Equal(4, script.ExitCode);
        Assert.Contains("/dev/pts/", text);
        Assert.Contains("40 100", text);
        await CriTests.AssertNothingLeftAsync(_containerd, "");
    }

    [ContainerdFact]
    public async Task KillingTheShim_LetsContainerdsCleanupRemoveTheVm()
    {
        var id = NewId("crash");
        var (code, _, stderr) = await Ctr("run", "-d", "--runtime", Runtime, BuildArtifacts.BusyboxRef, id, "sleep", "1000");
        Assert.True(code == 0, stderr);
        try
        {
            Assert.NotEmpty(HostResources.ProcessesMentioning(_containerd.StateDir));
            var shims = HostResources.ProcessesMentioning("containerd-shim-katasharp-v2")
                .Where(p => p.Contains(_containerd.Daemon.Address, StringComparison.Ordinal) && p.Contains(id, StringComparison.Ordinal))
                .ToList();
            var shim = Assert.Single(shims);
            Process.GetProcessById(int.Parse(shim.Split(':')[0])).Kill();

            Assert.True(await HostResources.EventuallyAsync(() => HostResources.ProcessesMentioning(_containerd.StateDir).Count == 0, VmTimeout),
                "the VM outlived its shim: " + string.Join("\n", HostResources.ProcessesMentioning(_containerd.StateDir)));
        }
        finally
        {
            await Ctr("task", "delete", "-f", id);
            await Ctr("container", "rm", id);
        }

        await CriTests.AssertNothingLeftAsync(_containerd, "");
    }

    /// <summary>
    /// containerd 2.x took the shim's version 3 bootstrap reply (it records it in the bundle);
    /// containerd 1.6 has no bootstrap file and calls the v2 API on the plain address.
    /// </summary>
    private void AssertTaskApiVersion(string id)
    {
        var bootstrap = Path.Combine(_containerd.Daemon.Directory_, "state", "io.containerd.runtime.v2.task", "default", id, "bootstrap.json");
        if (_containerd.Release.ConfigVersion < 3)
        {
            Assert.False(File.Exists(bootstrap), bootstrap);
            return;
        }

        using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(bootstrap));
        Assert.Equal(3, json.RootElement.GetProperty("version").GetInt32());
        Assert.Equal("ttrpc", json.RootElement.GetProperty("protocol").GetString());
    }
}

[Collection(KataSharpContainerdCollection.Name)]
public sealed class CtrTestsOnContainerd16(KataSharpContainerd containerd) : CtrTests(containerd);

[Collection(KataSharpContainerd2Collection.Name)]
public sealed class CtrTestsOnContainerd2(KataSharpContainerd2 containerd) : CtrTests(containerd);

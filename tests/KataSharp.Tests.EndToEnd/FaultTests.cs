using System.Diagnostics;
using Grpc.Core;
using KataSharp.Protocol.Cri.V1;
using Xunit.Abstractions;

namespace KataSharp.Tests.EndToEnd;

/// <summary>
/// Faults a node sees, each through containerd's CRI on one pod: the VMM or the shim killed, a guest
/// kernel panic, the agent hung or crashed, containerd restarted, a host-side step failing midway, stale state
/// after a crash. Each pod must end as containerd expects (its containers' TaskExit, NOTREADY) and leave
/// nothing behind once stopped and removed.
/// </summary>
public abstract class FaultTests
{
    private const string Handler = "katasharp";
    private static readonly TimeSpan CallTimeout = ContainerdTestbed.CallTimeout;
    private static readonly TimeSpan EventTimeout = TimeSpan.FromMinutes(2);
    private readonly ContainerdFixture _containerd;
    private readonly ITestOutputHelper _output;

    protected FaultTests(ContainerdFixture containerd, ITestOutputHelper output)
    {
        _containerd = containerd;
        _output = output;
    }

    private static DateTime Deadline => DateTime.UtcNow + CallTimeout;

    [ContainerdFact]
    public async Task KillingQemu_ExitsEveryContainer_MarksThePodNotReady_AndStopRemoveLeaveNothing()
    {
        await using var pod = await FaultPod.StartAsync(this, "qemu-kill");
        var app = await pod.StartContainerAsync("app", "sleep", "1000");

        var qemu = QemuOf(pod.Id);
        var killedAt = pod.Events.Now;
        Process.GetProcessById(qemu).Kill();

        await AssertPodDiedAsync(pod, app, killedAt);
        await pod.StopAndRemoveAsync();
        await AssertNothingLeftAsync(pod);
    }

    [ContainerdFact]
    public async Task GuestKernelPanic_IsHandledLikeAVmmCrash_WithTheConsoleTailInTheShimLog()
    {
        // Guest root: a privileged container can write /proc/sysrq-trigger (CRI lifts the read-only paths).
        await using var pod = await FaultPod.StartAsync(this, "panic", privileged: true);
        var app = await pod.StartContainerAsync("app", privileged: true, "sleep", "1000");

        var triggeredAt = pod.Events.Now;
        try
        {
            // The exec never gets to exit: the guest kernel dies under it (panic=-1 and -no-reboot make QEMU exit).
            await pod.Cri.Runtime.ExecSyncAsync(new ExecSyncRequest { ContainerId = app, Cmd = { "sh", "-c", "echo c > /proc/sysrq-trigger" } }, deadline: Deadline);
        }
        catch (RpcException)
        {
        }

        await AssertPodDiedAsync(pod, app, triggeredAt);
        await AssertConsoleTailLoggedAsync(pod, "sysrq triggered crash");
        await pod.StopAndRemoveAsync();
        await AssertNothingLeftAsync(pod);
    }

    /// <summary>
    /// The agent is PID 1 of the guest: no signal from the host or a container can kill or stop it (the kernel
    /// drops SIGKILL and SIGSTOP for init). It can hang, staged by the agent's fault seam: with
    /// <c>katasharp_fault=agent-hang</c> on the guest kernel's command line it answers no RPC once the first
    /// workload container has started. QEMU, the guest kernel and the container keep running; only the agent
    /// stops answering. Its other end, the agent crashing, is <see cref="CrashedAgent_PanicsTheGuest_AndIsHandledLikeAVmmCrash"/>.
    /// </summary>
    [ContainerdFact]
    public async Task HungAgent_FailsCallsWithinTheirDeadline_AndThePodIsReportedDead()
    {
        await using (var pod = await StartWithGuestFaultAsync("agent-hang"))
        {
            var hungAt = pod.Events.Now;
            var app = await pod.StartContainerAsync("app", "sleep", "1000");

            // No CRI timeout of its own (0): only the shim's agent deadline (agent.requestTimeoutSeconds) can end this call.
            var call = Stopwatch.StartNew();
            var error = await Assert.ThrowsAsync<RpcException>(async () =>
                await pod.Cri.Runtime.ExecSyncAsync(new ExecSyncRequest { ContainerId = app, Cmd = { "true" } }, deadline: Deadline));
            _output.WriteLine($"exec on the hung agent failed after {call.Elapsed.TotalSeconds:0.0} s: {error.StatusCode} {error.Status.Detail}");
            Assert.True(call.Elapsed < CallTimeout - TimeSpan.FromSeconds(30), $"the call hung until the client gave up: {error.Status.Detail}");

            await AssertPodDiedAsync(pod, app, hungAt);
            Assert.Contains("health checks in a row", _containerd.Daemon.Log, StringComparison.Ordinal);
            await pod.StopAndRemoveAsync();
            await AssertNothingLeftAsync(pod);
        }
    }

    /// <summary>
    /// The agent dying as a crash kills it (a fail-fast abort, staged by <c>katasharp_fault=agent-crash</c>
    /// shortly after the first workload container's start is answered) is init's death: the guest kernel
    /// panics, and with panic=-1 and -no-reboot QEMU exits, so the host sees a VMM crash.
    /// </summary>
    [ContainerdFact]
    public async Task CrashedAgent_PanicsTheGuest_AndIsHandledLikeAVmmCrash()
    {
        await using var pod = await StartWithGuestFaultAsync("agent-crash");
        var crashedAt = pod.Events.Now;
        var app = await pod.StartContainerAsync("app", "sleep", "1000");

        await AssertPodDiedAsync(pod, app, crashedAt);
        var call = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await pod.Cri.Runtime.ExecSyncAsync(new ExecSyncRequest { ContainerId = app, Cmd = { "true" } }, deadline: Deadline));
        _output.WriteLine($"exec after the crash failed after {call.Elapsed.TotalSeconds:0.0} s: {error.StatusCode} {error.Status.Detail}");
        await AssertConsoleTailLoggedAsync(pod, "Attempted to kill init");
        await pod.StopAndRemoveAsync();
        await AssertNothingLeftAsync(pod);
    }

    [ContainerdFact]
    public async Task KillingTheShim_LetsContainerdsCleanupRemoveTheVm_AndANewPodWorks()
    {
        await using (var pod = await FaultPod.StartAsync(this, "shim-kill"))
        {
            // containerd 2.x keeps one connection for a pod's grouped shim, and when it drops it cleans up the
            // sandbox's task only: another container's task stays "running" in CRI for ever, and the pod cannot
            // be removed (RemoveContainer: "container is still running"), whatever the shim. So on 2.x the pod
            // is the sandbox alone; containerd 1.6 cleans up each container's task, and there it has one more.
            if (_containerd.Release.ConfigVersion < 3)
            {
                await pod.StartContainerAsync("app", "sleep", "1000");
            }

            var shims = HostResources.ProcessesMentioning("containerd-shim-katasharp-v2")
                .Where(p => p.Contains(_containerd.Daemon.Address, StringComparison.Ordinal) && p.Contains(pod.Id, StringComparison.Ordinal))
                .ToList();
            Process.GetProcessById(int.Parse(Assert.Single(shims).Split(':')[0])).Kill();

            // containerd's cleanup (the shim binary's delete) takes the VM, its taps and its mounts.
            Assert.True(await HostResources.EventuallyAsync(() => HostResources.ProcessesMentioning(pod.Id).All(p => !p.Contains("qemu-system", StringComparison.Ordinal))
                && !Directory.Exists(Path.Combine(_containerd.StateDir, "sandboxes", pod.Id)), EventTimeout),
                "the VM outlived its shim: " + string.Join("\n", HostResources.ProcessesMentioning(pod.Id)));
            Assert.True(await HostResources.EventuallyAsync(() => pod.State() == PodSandboxState.SandboxNotready, EventTimeout), "the pod is not NOTREADY");
            await pod.StopAndRemoveAsync();
            await AssertNothingLeftAsync(pod);
        }

        await using var next = await FaultPod.StartAsync(this, "after-shim-kill");
        var container = await next.StartContainerAsync("app", "sleep", "1000");
        var exec = await CriTests.ExecSyncAsync(next.Cri, container, "echo", "alive");
        Assert.Equal("alive\n", exec.Stdout.ToStringUtf8());
        await next.StopAndRemoveAsync();
        await AssertNothingLeftAsync(next);
    }

    [ContainerdFact]
    public async Task RestartedContainerd_ReconnectsToTheShim_ListsTheTasks_ExecsAndGetsEvents()
    {
        await using var pod = await FaultPod.StartAsync(this, "ctd-restart");
        var app = await pod.StartContainerAsync("app", "sleep", "1000");
        var shimsBefore = ShimsOf(pod.Id);
        pod.Events.Dispose();

        await _containerd.Daemon.RestartAsync();

        Assert.Equal(shimsBefore, ShimsOf(pod.Id));
        var (code, tasks, stderr) = await _containerd.Daemon.CtrAsync(["-n", "k8s.io", "task", "ls"], TimeSpan.FromMinutes(1));
        Assert.True(code == 0, stderr);
        Assert.Matches($@"{app}\s+\d+\s+RUNNING", tasks);
        Assert.Matches($@"{pod.Id}\s+\d+\s+RUNNING", tasks);
        var pods = await pod.Cri.Runtime.ListPodSandboxAsync(new ListPodSandboxRequest(), deadline: Deadline);
        Assert.Contains(pods.Items, p => p.Id == pod.Id && p.State == PodSandboxState.SandboxReady);
        var containers = await pod.Cri.Runtime.ListContainersAsync(new ListContainersRequest(), deadline: Deadline);
        Assert.Contains(containers.Containers, c => c.Id == app && c.State == ContainerState.ContainerRunning);

        using var events = new ContainerdEventStream(_containerd.Daemon, "k8s.io");
        // Each exec publishes its own events through the shim's reconnected publisher; repeat until the new
        // subscription has seen one, since ctr events gives no sign of being subscribed.
        ContainerdEvent? seen = null;
        for (var i = 0; seen is null && i < 20; i++)
        {
            var exec = await CriTests.ExecSyncAsync(pod.Cri, app, "echo", "after-restart");
            Assert.Equal("after-restart\n", exec.Stdout.ToStringUtf8());
            seen = await events.WaitForAsync(e => e.Topic == "/tasks/exit" && e.IsAbout(app), TimeSpan.FromSeconds(5));
        }

        Assert.True(seen is not null, "no exec event reached containerd after its restart:\n" + events.Dump());
        await pod.Cri.Runtime.StopContainerAsync(new StopContainerRequest { ContainerId = app, Timeout = 0 }, deadline: Deadline);
        Assert.NotNull(await events.WaitForAsync(e => e.IsInitExit(app), EventTimeout));
        await pod.StopAndRemoveAsync();
        await AssertNothingLeftAsync(pod);
    }

    /// <summary>
    /// runtime.failAfter in the pod's katasharp.yaml fails its creation right after a host-side step. The
    /// directory of a failed sandbox is deleted only once its network undo log has been replayed in full,
    /// so its absence means the taps were taken back too.
    /// </summary>
    [ContainerdFact]
    public async Task AHostStepFailingMidway_UndoesEveryEarlierStep()
    {
        var original = await File.ReadAllTextAsync(_containerd.ConfigPath);
        try
        {
            foreach (var step in new[] { "mounts", "taps", "vmm" })
            {
                await File.WriteAllTextAsync(_containerd.ConfigPath, original + $"\n  failAfter: {step}\n");
                using var cri = new CriClient(_containerd.CriSocket);
                var logs = Directory.CreateTempSubdirectory("ks-e2e-logs").FullName;
                try
                {
                    var error = await Assert.ThrowsAsync<RpcException>(async () => await cri.Runtime.RunPodSandboxAsync(
                        new RunPodSandboxRequest { Config = CriTests.PodConfig($"fail-after-{step}", logs), RuntimeHandler = Handler }, deadline: Deadline));
                    Assert.Contains($"injected fault after the {step} step", error.Status.Detail, StringComparison.Ordinal);
                }
                finally
                {
                    Directory.Delete(logs, recursive: true);
                }

                await CriTests.AssertNothingLeftAsync(_containerd, "");
                Assert.Empty(PodNetworkTests.HostTaps());
            }
        }
        finally
        {
            await File.WriteAllTextAsync(_containerd.ConfigPath, original);
        }
    }

    /// <summary>
    /// Stale state as a crash leaves it: a kept CLI sandbox (its own netns, veth, NAT rules, tap and mounts)
    /// whose QEMU is killed has nobody left to clean up. gc removes all of it, while a live pod in the same
    /// state directory runs on untouched.
    /// </summary>
    [ContainerdFact]
    public async Task Gc_RemovesAStaleSandbox_AndNeverTouchesALivePod()
    {
        await using var live = await FaultPod.StartAsync(this, "gc-live");
        var app = await live.StartContainerAsync("app", "sleep", "1000");

        var (code, stdout, stderr) = await KatasharpAsync("run", "-d", "--", "sleep", "1000");
        Assert.True(code == 0, stderr);
        var stale = stdout.Trim().Split('\n')[^1].Trim();
        var staleDir = Path.Combine(_containerd.StateDir, "sandboxes", stale);
        Assert.True(Directory.Exists(staleDir), $"katasharp run -d printed {stale}, which has no directory");
        var staleNetns = NetnsOf(staleDir);
        Process.GetProcessById(QemuOf(stale)).Kill();
        Assert.True(await HostResources.EventuallyAsync(() => HostResources.ProcessesMentioning(staleDir).Count == 0, EventTimeout), "the stale VM did not die");
        Assert.NotEmpty(HostResources.MountsUnder(staleDir));

        (code, stdout, stderr) = await KatasharpAsync("gc");
        Assert.True(code == 0, stderr);
        Assert.Equal(stale, stdout.Trim());
        Assert.False(Directory.Exists(staleDir));
        Assert.Empty(HostResources.MountsUnder(staleDir));
        Assert.True(staleNetns is null || !File.Exists(staleNetns), $"{staleNetns} outlived gc");

        // The live pod: its VM, directory and mounts untouched, and it still serves.
        Assert.Single(HostResources.ProcessesMentioning(live.Id), p => p.Contains("qemu-system", StringComparison.Ordinal));
        var exec = await CriTests.ExecSyncAsync(live.Cri, app, "echo", "untouched");
        Assert.Equal("untouched\n", exec.Stdout.ToStringUtf8());
        (code, stdout, _) = await KatasharpAsync("gc");
        Assert.Equal(0, code);
        Assert.Equal("", stdout.Trim());

        await live.StopAndRemoveAsync();
        await AssertNothingLeftAsync(live);
    }

    /// <summary>Every container's TaskExit reaches containerd (the app's before the sandbox's), and CRI shows the pod NOTREADY.</summary>
    private async Task AssertPodDiedAsync(FaultPod pod, string app, TimeSpan faultAt)
    {
        var appExit = await pod.Events.WaitForAsync(e => e.IsInitExit(app), EventTimeout);
        var podExit = await pod.Events.WaitForAsync(e => e.IsInitExit(pod.Id), EventTimeout);
        Assert.True(appExit is not null && podExit is not null, "missing TaskExit:\n" + pod.Events.Dump());
        var events = pod.Events.Events.ToList();
        Assert.True(events.IndexOf(appExit) < events.IndexOf(podExit), "the sandbox exited before its container:\n" + pod.Events.Dump());
        // A figure for the report, not an assertion: it depends on the machine.
        _output.WriteLine($"TaskExit of every container {(podExit.ReadAt - faultAt).TotalMilliseconds:0} ms after the fault");
        Assert.True(await HostResources.EventuallyAsync(() => pod.State() == PodSandboxState.SandboxNotready, EventTimeout), "the pod is not NOTREADY");
        var status = await pod.Cri.Runtime.ContainerStatusAsync(new ContainerStatusRequest { ContainerId = app }, deadline: Deadline);
        Assert.Equal(ContainerState.ContainerExited, status.Status.State);
        Assert.DoesNotContain(HostResources.ProcessesMentioning(pod.Id), p => p.Contains("qemu-system", StringComparison.Ordinal));
    }

    /// <summary>
    /// The shim logs the guest console's last lines when the VM ends unexpectedly; those logged since this pod
    /// came up must show the guest's own account of its end.
    /// </summary>
    private async Task AssertConsoleTailLoggedAsync(FaultPod pod, string consoleLine)
    {
        string SincePod()
        {
            var log = _containerd.Daemon.Log;
            var start = log.IndexOf(pod.Id, StringComparison.Ordinal);
            return start < 0 ? "" : log[start..];
        }

        var found = await HostResources.EventuallyAsync(() => SincePod() is var log && log.Contains("guest console (last lines)", StringComparison.Ordinal)
            && log.Contains(consoleLine, StringComparison.Ordinal), TimeSpan.FromSeconds(30));
        _output.WriteLine(string.Join('\n', SincePod().Split('\n').SkipWhile(l => !l.Contains("guest console (last lines)", StringComparison.Ordinal)).Take(90)));
        Assert.True(found,
            $"the shim log lacks the guest console's '{consoleLine}':\n" + string.Join('\n', SincePod().Split('\n').Where(l => l.Contains(pod.Id, StringComparison.Ordinal) || l.Contains("console", StringComparison.Ordinal)).TakeLast(40)));
    }

    /// <summary>
    /// A pod whose guest agent stages <paramref name="fault"/> (its <c>katasharp_fault</c>, through
    /// <c>hypervisor.kernelParams</c>). Only this pod's shim reads the changed katasharp.yaml: each shim reads it
    /// when it boots its VM, and it is restored before this returns.
    /// </summary>
    private async Task<FaultPod> StartWithGuestFaultAsync(string fault)
    {
        var original = await File.ReadAllTextAsync(_containerd.ConfigPath);
        try
        {
            await File.WriteAllTextAsync(_containerd.ConfigPath, original.Replace("hypervisor:\n", $"hypervisor:\n  kernelParams: katasharp_fault={fault}\n", StringComparison.Ordinal));
            return await FaultPod.StartAsync(this, fault);
        }
        finally
        {
            await File.WriteAllTextAsync(_containerd.ConfigPath, original);
        }
    }

    private async Task AssertNothingLeftAsync(FaultPod pod)
    {
        await CriTests.AssertNothingLeftAsync(_containerd, pod.Id);
        Assert.Empty(PodNetworkTests.HostTaps());
        Assert.False(File.Exists(pod.NetnsPath), $"{pod.NetnsPath} outlived the pod");
    }

    private static int QemuOf(string sandboxId) =>
        int.Parse(Assert.Single(HostResources.ProcessesMentioning(sandboxId), p => p.Contains("qemu-system", StringComparison.Ordinal)).Split(':')[0]);

    private IReadOnlyList<string> ShimsOf(string podId) =>
        HostResources.ProcessesMentioning("containerd-shim-katasharp-v2")
            .Where(p => p.Contains(_containerd.Daemon.Address, StringComparison.Ordinal) && p.Contains(podId, StringComparison.Ordinal))
            .Select(p => p.Split(':')[0]).Order().ToList();

    /// <summary>The named netns a kept CLI sandbox made for itself, from its network.json; null if none.</summary>
    private static string? NetnsOf(string sandboxDir)
    {
        var record = Path.Combine(sandboxDir, "network.json");
        if (!File.Exists(record))
        {
            return null;
        }

        var match = System.Text.RegularExpressions.Regex.Match(File.ReadAllText(record), "\"(/(var/)?run/netns/[^\"]+)\"");
        return match.Success ? match.Groups[1].Value : null;
    }

    private Task<(int ExitCode, string Stdout, string Stderr)> KatasharpAsync(params string[] args) =>
        KatasharpCli.RunAsync(CallTimeout, ["--config", _containerd.ConfigPath, .. args]);

    /// <summary>One CRI pod of a fault test, with the event stream that watched it come up.</summary>
    private sealed class FaultPod : IAsyncDisposable
    {
        private readonly string _logs;
        private bool _removed;

        private FaultPod(FaultTests tests, PodSandboxConfig config, string logs, ContainerdEventStream events)
        {
            Tests = tests;
            Config = config;
            _logs = logs;
            Events = events;
            Cri = new CriClient(tests._containerd.CriSocket);
        }

        public FaultTests Tests { get; }

        public PodSandboxConfig Config { get; }

        public CriClient Cri { get; }

        public ContainerdEventStream Events { get; }

        public string Id { get; private set; } = "";

        public string NetnsPath { get; private set; } = "";

        public static async Task<FaultPod> StartAsync(FaultTests tests, string name, bool privileged = false)
        {
            var logs = Directory.CreateTempSubdirectory("ks-e2e-logs").FullName;
            var config = CriTests.PodConfig(name, logs);
            config.Linux.SecurityContext.Privileged = privileged;

            var pod = new FaultPod(tests, config, logs, new ContainerdEventStream(tests._containerd.Daemon, "k8s.io"));
            try
            {
                pod.Id = (await pod.Cri.Runtime.RunPodSandboxAsync(new RunPodSandboxRequest { Config = config, RuntimeHandler = Handler }, deadline: Deadline)).PodSandboxId;
                // The sandbox's own start proves the event subscription live before any fault.
                Assert.NotNull(await pod.Events.WaitForAsync(e => e.Topic == "/tasks/start" && e.IsAbout(pod.Id), EventTimeout));
                pod.NetnsPath = await PodNetworkTests.NetnsPathAsync(pod.Cri, pod.Id);
                return pod;
            }
            catch
            {
                await pod.DisposeAsync();
                throw;
            }
        }

        public Task<string> StartContainerAsync(string name, params string[] command) => StartContainerAsync(name, false, command);

        public async Task<string> StartContainerAsync(string name, bool privileged, params string[] command)
        {
            var config = CriTests.ContainerConfig(name, command);
            if (privileged)
            {
                config.Linux = new LinuxContainerConfig { SecurityContext = new LinuxContainerSecurityContext { Privileged = true } };
            }

            var id = await CriTests.StartContainerAsync(Cri, Id, Config, config);
            Assert.NotNull(await Events.WaitForAsync(e => e.Topic == "/tasks/start" && e.IsAbout(id), EventTimeout));
            return id;
        }

        public PodSandboxState State() =>
            Cri.Runtime.PodSandboxStatus(new PodSandboxStatusRequest { PodSandboxId = Id }, deadline: Deadline).Status.State;

        /// <summary>As the kubelet ends a pod: each container stopped, the sandbox stopped, each container removed, the sandbox removed.</summary>
        public async Task StopAndRemoveAsync()
        {
            var containers = (await Cri.Runtime.ListContainersAsync(new ListContainersRequest { Filter = new ContainerFilter { PodSandboxId = Id } }, deadline: Deadline)).Containers;
            foreach (var container in containers)
            {
                await Cri.Runtime.StopContainerAsync(new StopContainerRequest { ContainerId = container.Id, Timeout = 0 }, deadline: Deadline);
            }

            await Cri.Runtime.StopPodSandboxAsync(new StopPodSandboxRequest { PodSandboxId = Id }, deadline: Deadline);
            foreach (var container in containers)
            {
                await Cri.Runtime.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = container.Id }, deadline: Deadline);
            }

            await Cri.Runtime.RemovePodSandboxAsync(new RemovePodSandboxRequest { PodSandboxId = Id }, deadline: Deadline);
            _removed = true;
        }

        public async ValueTask DisposeAsync()
        {
            try
            {
                if (!_removed && Id.Length > 0)
                {
                    await StopAndRemoveAsync();
                }
            }
            finally
            {
                Events.Dispose();
                Cri.Dispose();
                Directory.Delete(_logs, recursive: true);
            }
        }
    }
}

[Collection(KataSharpContainerdCollection.Name)]
public sealed class FaultTestsOnContainerd16(KataSharpContainerd containerd, ITestOutputHelper output) : FaultTests(containerd, output);

[Collection(KataSharpContainerd2Collection.Name)]
public sealed class FaultTestsOnContainerd2(KataSharpContainerd2 containerd, ITestOutputHelper output) : FaultTests(containerd, output);

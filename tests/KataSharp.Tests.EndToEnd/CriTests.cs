using Grpc.Core;
using KataSharp.Protocol.Cri.V1;

namespace KataSharp.Tests.EndToEnd;

/// <summary>
/// Kubernetes users: containerd's CRI with the RuntimeClass handler <c>katasharp</c>, on each
/// containerd release (the classes below).
/// </summary>
public abstract class CriTests
{
    private const string Handler = "katasharp";
    private static readonly TimeSpan CallTimeout = ContainerdTestbed.CallTimeout;
    private readonly ContainerdFixture _containerd;

    protected CriTests(ContainerdFixture containerd) => _containerd = containerd;

    private static DateTime Deadline => DateTime.UtcNow + CallTimeout;

    internal static PodSandboxConfig PodConfig(string name, string logDirectory) => new()
    {
        Metadata = new PodSandboxMetadata { Name = name, Uid = Guid.NewGuid().ToString("N"), Namespace = "e2e", Attempt = 0 },
        Hostname = name,
        LogDirectory = logDirectory,
        DnsConfig = new DNSConfig { Servers = { "10.214.0.53" }, Searches = { "e2e.svc.cluster.local" }, Options = { "ndots:2" } },
        Linux = new LinuxPodSandboxConfig
        {
            SecurityContext = new LinuxSandboxSecurityContext { NamespaceOptions = new NamespaceOption { Network = NamespaceMode.Pod } },
        },
    };

    internal static ContainerConfig ContainerConfig(string name, params string[] command) => new()
    {
        Metadata = new ContainerMetadata { Name = name },
        Image = new ImageSpec { Image = BuildArtifacts.BusyboxRef },
        Command = { command },
        LogPath = $"{name}.log",
    };

    [ContainerdFact]
    public async Task Pod_RunsTwoContainersInOneVm_ServesExecSyncStatusLogsAndStats_AndLeavesNothing()
    {
        using var cri = new CriClient(_containerd.CriSocket);
        var logs = Directory.CreateTempSubdirectory("ks-e2e-logs").FullName;
        var pod = PodConfig("two-containers", logs);
        var podId = (await cri.Runtime.RunPodSandboxAsync(new RunPodSandboxRequest { Config = pod, RuntimeHandler = Handler }, deadline: Deadline)).PodSandboxId;
        try
        {
            var vms = HostResources.ProcessesMentioning(_containerd.StateDir).Where(p => p.Contains("qemu-system", StringComparison.Ordinal)).ToList();
            Assert.Single(vms);

            var first = await StartContainerAsync(cri, podId, pod, ContainerConfig("first", "sleep", "1000"));
            var second = await StartContainerAsync(cri, podId, pod, ContainerConfig("second", "sleep", "1000"));

            var kernel = await ExecSyncAsync(cri, first, "uname", "-r");
            Assert.Equal(BuildArtifacts.GuestKernelRelease, kernel.Stdout.ToStringUtf8().Trim());
            Assert.NotEqual(File.ReadAllText("/proc/sys/kernel/osrelease").Trim(), kernel.Stdout.ToStringUtf8().Trim());
            var bootFirst = (await ExecSyncAsync(cri, first, "cat", "/proc/sys/kernel/random/boot_id")).Stdout.ToStringUtf8().Trim();
            var bootSecond = (await ExecSyncAsync(cri, second, "cat", "/proc/sys/kernel/random/boot_id")).Stdout.ToStringUtf8().Trim();
            Assert.Equal(bootFirst, bootSecond);
            Assert.NotEqual(File.ReadAllText("/proc/sys/kernel/random/boot_id").Trim(), bootFirst);
            Assert.Single(HostResources.ProcessesMentioning(_containerd.StateDir), p => p.Contains("qemu-system", StringComparison.Ordinal));

            var exec = await ExecSyncAsync(cri, first, "sh", "-c", "echo to-out; echo to-err >&2; exit 7");
            Assert.Equal(7, exec.ExitCode);
            Assert.Equal("to-out\n", exec.Stdout.ToStringUtf8());
            Assert.Equal("to-err\n", exec.Stderr.ToStringUtf8());

            await ExecSyncAsync(cri, second, "sh", "-c", "head -c 16m /dev/zero > /dev/shm/fill");
            var stats = await cri.Runtime.ListContainerStatsAsync(new ListContainerStatsRequest { Filter = new ContainerStatsFilter { PodSandboxId = podId } }, deadline: Deadline);
            var secondStats = Assert.Single(stats.Stats, s => s.Attributes.Id == second);
            Assert.True(secondStats.Memory.WorkingSetBytes.Value > 16UL << 20, $"working set {secondStats.Memory.WorkingSetBytes.Value}");

            var failing = await StartContainerAsync(cri, podId, pod, ContainerConfig("failing", "sh", "-c", "echo logged-line; exit 2"));
            var status = await WaitForExitAsync(cri, failing);
            Assert.Equal(2, status.ExitCode);
            Assert.Equal("Error", status.Reason);
            Assert.True(await HostResources.EventuallyAsync(() => File.Exists(status.LogPath) && File.ReadAllText(status.LogPath).Contains("logged-line"), TimeSpan.FromSeconds(30)),
                $"{status.LogPath} lacks the container's output");

            var completing = await StartContainerAsync(cri, podId, pod, ContainerConfig("completing", "true"));
            status = await WaitForExitAsync(cri, completing);
            Assert.Equal(0, status.ExitCode);
            Assert.Equal("Completed", status.Reason);
        }
        finally
        {
            await cri.Runtime.StopPodSandboxAsync(new StopPodSandboxRequest { PodSandboxId = podId }, deadline: Deadline);
            await cri.Runtime.RemovePodSandboxAsync(new RemovePodSandboxRequest { PodSandboxId = podId }, deadline: Deadline);
            Directory.Delete(logs, recursive: true);
        }

        await AssertNothingLeftAsync(_containerd, podId);
    }

    [ContainerdFact]
    public async Task OomKilledContainer_IsReportedAsOomKilled()
    {
        using var cri = new CriClient(_containerd.CriSocket);
        var logs = Directory.CreateTempSubdirectory("ks-e2e-logs").FullName;
        var pod = PodConfig("oom", logs);
        var podId = (await cri.Runtime.RunPodSandboxAsync(new RunPodSandboxRequest { Config = pod, RuntimeHandler = Handler }, deadline: Deadline)).PodSandboxId;
        try
        {
            // The container's own process is what the OOM killer picks: tail buffers /dev/zero's endless line.
            var config = ContainerConfig("hog", "tail", "/dev/zero");
            config.Linux = new LinuxContainerConfig { Resources = new LinuxContainerResources { MemoryLimitInBytes = 32L << 20 } };
            var hog = await StartContainerAsync(cri, podId, pod, config);
            var status = await WaitForExitAsync(cri, hog);
            Assert.Equal(137, status.ExitCode);
            // CRI learns of the OOM from the event stream, which may trail the exit it got from Wait.
            await HostResources.EventuallyAsync(() =>
                (status = cri.Runtime.ContainerStatus(new ContainerStatusRequest { ContainerId = hog }, deadline: Deadline).Status).Reason == "OOMKilled",
                TimeSpan.FromSeconds(10));
            Assert.Equal("OOMKilled", status.Reason);
        }
        finally
        {
            await cri.Runtime.StopPodSandboxAsync(new StopPodSandboxRequest { PodSandboxId = podId }, deadline: Deadline);
            await cri.Runtime.RemovePodSandboxAsync(new RemovePodSandboxRequest { PodSandboxId = podId }, deadline: Deadline);
            Directory.Delete(logs, recursive: true);
        }

        await AssertNothingLeftAsync(_containerd, podId);
    }

    [ContainerdFact]
    public Task HostNetworkPod_IsRejectedWithFailedPrecondition_AndLeavesNothing() =>
        AssertPodRefusedAsync("host-network", pod => pod.Linux.SecurityContext.NamespaceOptions.Network = NamespaceMode.Node, "host networking");

    [ContainerdFact]
    public Task HostPidPod_IsRejectedWithFailedPrecondition_AndLeavesNothing() =>
        AssertPodRefusedAsync("host-pid", pod => pod.Linux.SecurityContext.NamespaceOptions.Pid = NamespaceMode.Node, "hostPID: true");

    [ContainerdFact]
    public Task HostIpcPod_IsRejectedWithFailedPrecondition_AndLeavesNothing() =>
        AssertPodRefusedAsync("host-ipc", pod => pod.Linux.SecurityContext.NamespaceOptions.Ipc = NamespaceMode.Node, "hostIPC: true");

    /// <summary>RunPodSandbox fails with FailedPrecondition and <paramref name="reason"/>, and no pod, VM or shim remains.</summary>
    private async Task AssertPodRefusedAsync(string name, Action<PodSandboxConfig> configure, string reason)
    {
        using var cri = new CriClient(_containerd.CriSocket);
        var logs = Directory.CreateTempSubdirectory("ks-e2e-logs").FullName;
        try
        {
            var config = PodConfig(name, logs);
            configure(config);
            var error = await Assert.ThrowsAsync<RpcException>(async () => await cri.Runtime.RunPodSandboxAsync(
                new RunPodSandboxRequest { Config = config, RuntimeHandler = Handler }, deadline: Deadline));
            Assert.Equal(StatusCode.FailedPrecondition, error.StatusCode);
            Assert.Contains(reason, error.Status.Detail);
            var pods = await cri.Runtime.ListPodSandboxAsync(new ListPodSandboxRequest(), deadline: Deadline);
            Assert.DoesNotContain(pods.Items, p => p.Metadata.Name == name);
        }
        finally
        {
            Directory.Delete(logs, recursive: true);
        }

        await AssertNothingLeftAsync(_containerd, "");
    }

    internal static async Task<string> StartContainerAsync(CriClient cri, string podId, PodSandboxConfig pod, ContainerConfig config)
    {
        var id = (await cri.Runtime.CreateContainerAsync(new CreateContainerRequest { PodSandboxId = podId, Config = config, SandboxConfig = pod }, deadline: Deadline)).ContainerId;
        await cri.Runtime.StartContainerAsync(new StartContainerRequest { ContainerId = id }, deadline: Deadline);
        return id;
    }

    /// <summary>Polls ContainerStatus until the container has exited, and returns that status.</summary>
    internal static async Task<ContainerStatus> WaitForExitAsync(CriClient cri, string containerId)
    {
        ContainerStatus status = null!;
        Assert.True(await HostResources.EventuallyAsync(() =>
        {
            status = cri.Runtime.ContainerStatus(new ContainerStatusRequest { ContainerId = containerId }, deadline: Deadline).Status;
            return status.State == ContainerState.ContainerExited;
        }, CallTimeout), $"container {containerId} did not exit");
        return status;
    }

    internal static async Task<ExecSyncResponse> ExecSyncAsync(CriClient cri, string containerId, params string[] cmd) =>
        await cri.Runtime.ExecSyncAsync(new ExecSyncRequest { ContainerId = containerId, Cmd = { cmd }, Timeout = 60 }, deadline: Deadline);

    /// <summary>No QEMU, shim, sandbox directory or mount of ours remains; with a pod id, none of its containerd mounts either.</summary>
    internal static async Task AssertNothingLeftAsync(ContainerdFixture containerd, string podId)
    {
        var clean = await HostResources.EventuallyAsync(() =>
            HostResources.ProcessesMentioning(containerd.StateDir).Count == 0
            && HostResources.ProcessesMentioning("containerd-shim-katasharp-v2").All(p => !p.Contains(containerd.Daemon.Address, StringComparison.Ordinal))
            && HostResources.SandboxDirectories(containerd.StateDir).Count == 0
            && HostResources.MountsUnder(containerd.StateDir).Count == 0
            && (podId.Length == 0 || HostResources.MountsUnder(containerd.Daemon.Directory_).All(m => !m.Contains(podId, StringComparison.Ordinal))),
            TimeSpan.FromSeconds(60));
        Assert.True(clean, "left behind: " + string.Join("\n",
            HostResources.ProcessesMentioning(containerd.StateDir)
                .Concat(HostResources.ProcessesMentioning("containerd-shim-katasharp-v2"))
                .Concat(HostResources.SandboxDirectories(containerd.StateDir))
                .Concat(HostResources.MountsUnder(containerd.StateDir))
                .Concat(HostResources.MountsUnder(containerd.Daemon.Directory_))));
    }
}

[Collection(KataSharpContainerdCollection.Name)]
public sealed class CriTestsOnContainerd16(KataSharpContainerd containerd) : CriTests(containerd);

[Collection(KataSharpContainerd2Collection.Name)]
public sealed class CriTestsOnContainerd2(KataSharpContainerd2 containerd) : CriTests(containerd);

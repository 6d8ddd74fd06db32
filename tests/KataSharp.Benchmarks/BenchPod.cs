using System.Diagnostics;
using KataSharp.Protocol.Cri.V1;
using KataSharp.Tests.EndToEnd;

namespace KataSharp.Benchmarks;

/// <summary>
/// A pod with one busybox container run through CRI (RunPodSandbox + CreateContainer + StartContainer), timed from the
/// first call to StartContainer's answer: "pod ready". Disposing stops and removes the pod and deletes its log directory.
/// </summary>
internal sealed class BenchPod : IAsyncDisposable
{
    private static readonly TimeSpan CallTimeout = TimeSpan.FromMinutes(3);
    private readonly CriClient _cri;

    private BenchPod(CriClient cri, string podId, string containerId, string logDirectory, TimeSpan ready)
    {
        _cri = cri;
        PodId = podId;
        ContainerId = containerId;
        LogDirectory = logDirectory;
        Ready = ready;
    }

    public string PodId { get; }

    public string ContainerId { get; }

    public string LogDirectory { get; }

    /// <summary>The container's CRI log file (containerd writes it, runc and katasharp alike).</summary>
    public string LogPath => Path.Combine(LogDirectory, "container.log");

    public TimeSpan Ready { get; }

    /// <summary>
    /// How long StopPodSandbox took, once disposed: containerd answers it after the sandbox task's Delete, which for
    /// katasharp is the VM's end.
    /// </summary>
    public TimeSpan Stopped { get; private set; }

    private static DateTime Deadline => DateTime.UtcNow + CallTimeout;

    public static async Task<BenchPod> StartAsync(CriClient cri, string handler, string name, IReadOnlyList<string> command)
    {
        var logs = Directory.CreateTempSubdirectory("ks-bench-logs").FullName;
        var pod = new PodSandboxConfig
        {
            Metadata = new PodSandboxMetadata { Name = name, Uid = Guid.NewGuid().ToString("N"), Namespace = "bench" },
            LogDirectory = logs,
            Linux = new LinuxPodSandboxConfig(),
        };
        var clock = Stopwatch.StartNew();
        string? podId = null;
        try
        {
            podId = (await cri.Runtime.RunPodSandboxAsync(new RunPodSandboxRequest { Config = pod, RuntimeHandler = handler }, deadline: Deadline)).PodSandboxId;
            var container = (await cri.Runtime.CreateContainerAsync(new CreateContainerRequest
            {
                PodSandboxId = podId,
                SandboxConfig = pod,
                Config = new ContainerConfig
                {
                    Metadata = new ContainerMetadata { Name = "bench" },
                    Image = new ImageSpec { Image = BuildArtifacts.BusyboxRef },
                    Command = { command },
                    LogPath = "container.log",
                },
            }, deadline: Deadline)).ContainerId;
            await cri.Runtime.StartContainerAsync(new StartContainerRequest { ContainerId = container }, deadline: Deadline);
            return new BenchPod(cri, podId, container, logs, clock.Elapsed);
        }
        catch
        {
            await RemoveAsync(cri, podId, logs);
            throw;
        }
    }

    public async ValueTask DisposeAsync() => Stopped = await RemoveAsync(_cri, PodId, LogDirectory);

    /// <returns>How long StopPodSandbox took.</returns>
    private static async Task<TimeSpan> RemoveAsync(CriClient cri, string? podId, string logs)
    {
        try
        {
            if (podId is null)
            {
                return TimeSpan.Zero;
            }

            var clock = Stopwatch.StartNew();
            await cri.Runtime.StopPodSandboxAsync(new StopPodSandboxRequest { PodSandboxId = podId }, deadline: Deadline);
            var stopped = clock.Elapsed;
            await cri.Runtime.RemovePodSandboxAsync(new RemovePodSandboxRequest { PodSandboxId = podId }, deadline: Deadline);
            return stopped;
        }
        finally
        {
            Directory.Delete(logs, recursive: true);
        }
    }
}

using System.Globalization;
using System.Text.Json.Nodes;
using Grpc.Core;
using KataSharp.Protocol.Containerd.Events;
using KataSharp.Runtime.Configuration;
using KataSharp.Runtime.Sandbox;
using KataSharp.Shim.Events;
using KataSharp.Shim.Lifecycle;
using Microsoft.Extensions.Logging;

namespace KataSharp.Shim.TaskService;

/// <summary>
/// The pod's micro-VM as the shim holds it: created by the pod's first container, sized from the
/// configuration plus the CRI sandbox resource annotations, and watched for OOM kills and crashes.
/// </summary>
internal sealed partial class PodVm : IAsyncDisposable
{
    public const string CpuQuotaAnnotation = "io.kubernetes.cri.sandbox-cpu-quota";
    public const string CpuPeriodAnnotation = "io.kubernetes.cri.sandbox-cpu-period";
    public const string MemoryAnnotation = "io.kubernetes.cri.sandbox-memory";

    private readonly CancellationTokenSource _stop = new();
    private readonly ILogger _logger;
    private Task _oomWatch = Task.CompletedTask;

    private PodVm(Sandbox sandbox, KataSharpConfig config, ILogger logger)
    {
        Sandbox = sandbox;
        Config = config;
        _logger = logger;
    }

    public Sandbox Sandbox { get; }

    public KataSharpConfig Config { get; }

    /// <summary>The task pid containerd and CRI see for every container: QEMU's, which lives in the pod's netns.</summary>
    public uint Pid => (uint)(Sandbox.Hypervisor.Pid ?? 0);

    /// <exception cref="RpcException">FailedPrecondition for host networking; the sandbox's own codes otherwise.</exception>
    public static async Task<PodVm> CreateAsync(string id, BundleSpec spec, KataSharpConfig config, ILoggerFactory loggerFactory, CancellationToken cancellationToken)
    {
        var networkNamespace = NetworkNamespacePath(spec.Spec);
        if (spec.Annotations.ContainsKey(BundleSpec.ContainerTypeAnnotation) && networkNamespace is null)
        {
            throw Errors.FailedPrecondition("host networking (hostNetwork: true) cannot be honoured inside a VM: the pod would share the node's network namespace, which a micro-VM cannot join; run this pod with another RuntimeClass");
        }

        var (vcpus, memoryMiB) = Size(config, spec.Annotations);
        var manager = new SandboxManager(config, loggerFactory);
        Sandbox sandbox;
        try
        {
            sandbox = await manager.CreateAsync(new SandboxOptions
            {
                Id = id,
                Hostname = Hostname(spec.Spec),
                Vcpus = vcpus,
                MemoryMiB = memoryMiB,
                Annotations = spec.Annotations,
                NetworkNamespacePath = networkNamespace is { Length: > 0 } ? networkNamespace : null,
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (SandboxException e)
        {
            throw Errors.From(e);
        }

        return new PodVm(sandbox, config, loggerFactory.CreateLogger("KataSharp.Shim.PodVm"));
    }

    /// <summary>The VM gets the configured size plus what the pod's limits ask for, as Kata sizes it.</summary>
    internal static (int Vcpus, int MemoryMiB) Size(KataSharpConfig config, IReadOnlyDictionary<string, string> annotations)
    {
        var vcpus = config.Hypervisor.Vcpus;
        var memory = config.Hypervisor.MemoryMiB;
        if (Long(annotations, CpuQuotaAnnotation) is > 0 and var quota && Long(annotations, CpuPeriodAnnotation) is > 0 and var period)
        {
            vcpus += (int)Math.Ceiling((double)quota / period);
        }

        if (Long(annotations, MemoryAnnotation) is > 0 and var bytes)
        {
            memory += (int)Math.Ceiling(bytes / (1024.0 * 1024.0));
        }

        return (vcpus, memory);
    }

    /// <summary>Null when the spec has no network namespace at all (host networking); empty when it asks for a new one.</summary>
    internal static string? NetworkNamespacePath(JsonObject spec)
    {
        if (spec["linux"]?["namespaces"] is not JsonArray namespaces)
        {
            return null;
        }

        foreach (var ns in namespaces)
        {
            if (ns?["type"]?.GetValue<string>() == "network")
            {
                return ns["path"]?.GetValue<string>() ?? "";
            }
        }

        return null;
    }

    private static string Hostname(JsonObject spec) => spec["hostname"]?.GetValue<string>() ?? "";

    private static long? Long(IReadOnlyDictionary<string, string> annotations, string key) =>
        annotations.TryGetValue(key, out var s) && long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : null;

    /// <summary>Publishes TaskOOM for every OOM kill the agent reports, until the VM goes.</summary>
    public void WatchOom(EventPublisher events)
    {
        _oomWatch = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                try
                {
                    var oom = await Sandbox.Agent.Client.GetOomEventAsync(new Google.Protobuf.WellKnownTypes.Empty(), cancellationToken: _stop.Token).ResponseAsync.ConfigureAwait(false);
                    events.Publish(Topics.TaskOom, new TaskOOM { ContainerId = oom.ContainerId });
                }
                catch (RpcException e) when (e.StatusCode is StatusCode.Cancelled or StatusCode.Unavailable)
                {
                    return;
                }
                catch (RpcException e)
                {
                    LogOomWatchFailed(_logger, e.Status.Detail);
                    await Task.Delay(TimeSpan.FromSeconds(1), _stop.Token).ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
                }
            }
        });
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await Sandbox.DestroyAsync().ConfigureAwait(false);
        await _oomWatch.ConfigureAwait(false);
        _stop.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "waiting for OOM events failed: {Reason}")]
    private static partial void LogOomWatchFailed(ILogger logger, string reason);
}

using System.Globalization;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using KataSharp.Protocol.Agent.V1;
using KataSharp.Protocol.Errors;
using KataSharp.Runtime.Agent;
using KataSharp.Runtime.Configuration;
using KataSharp.Runtime.Sandbox;
using KataSharp.Shim.Lifecycle;
using Microsoft.Extensions.Logging;

namespace KataSharp.Shim.TaskService;

/// <summary>
/// The pod's micro-VM as the shim holds it: created by the pod's first container, sized from the
/// configuration plus the CRI sandbox resource annotations, and the agent in it.
/// </summary>
internal sealed class PodVm : IPodVm
{
    public const string CpuQuotaAnnotation = "io.kubernetes.cri.sandbox-cpu-quota";
    public const string CpuPeriodAnnotation = "io.kubernetes.cri.sandbox-cpu-period";
    public const string MemoryAnnotation = "io.kubernetes.cri.sandbox-memory";

    private PodVm(Sandbox sandbox)
    {
        Sandbox = sandbox;
        Exited = WhenExited(sandbox);
    }

    public Sandbox Sandbox { get; }

    public string Id => Sandbox.Id;

    public Task<string> Exited { get; }

    /// <summary>The task pid containerd and CRI see for every container: QEMU's, which lives in the pod's netns.</summary>
    public uint Pid => (uint)(Sandbox.Hypervisor.Pid ?? 0);

    /// <exception cref="KataSharpException">FailedPrecondition for host networking; the sandbox's own codes otherwise.</exception>
    public static async Task<PodVm> CreateAsync(string id, BundleSpec spec, KataSharpConfig config, ILoggerFactory loggerFactory, CancellationToken cancellationToken)
    {
        var networkNamespace = NetworkNamespacePath(spec.Spec);
        if (spec.Annotations.ContainsKey(BundleSpec.ContainerTypeAnnotation) && networkNamespace is null)
        {
            throw Errdefs.FailedPrecondition("host networking (hostNetwork: true) cannot be honoured inside a VM: the pod would share the node's network namespace, which a micro-VM cannot join; run this pod with another RuntimeClass");
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
            throw e.ToError();
        }

        return new PodVm(sandbox);
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

    private static async Task<string> WhenExited(Sandbox sandbox) => (await sandbox.Exited.ConfigureAwait(false)).ToString() ?? "";

    public async Task<IGuestContainer> CreateContainerAsync(ContainerOptions options, CancellationToken cancellationToken) =>
        new GuestContainer(await SandboxCall.Run(() => Sandbox.CreateContainerAsync(options, cancellationToken)).ConfigureAwait(false));

    public async Task<string> NextOomAsync(CancellationToken cancellationToken) =>
        (await SandboxCall.Agent(() => Agent.Client.GetOomEventAsync(new Empty(), cancellationToken: cancellationToken).ResponseAsync).ConfigureAwait(false)).ContainerId;

    public Task PauseAsync(string containerId, CancellationToken cancellationToken) =>
        SandboxCall.Agent(() => Agent.Client.PauseContainerAsync(new ContainerRequest { ContainerId = containerId }, deadline: Agent.Deadline, cancellationToken: cancellationToken).ResponseAsync);

    public Task ResumeAsync(string containerId, CancellationToken cancellationToken) =>
        SandboxCall.Agent(() => Agent.Client.ResumeContainerAsync(new ContainerRequest { ContainerId = containerId }, deadline: Agent.Deadline, cancellationToken: cancellationToken).ResponseAsync);

    public Task UpdateAsync(string containerId, ByteString resourcesJson, CancellationToken cancellationToken) =>
        SandboxCall.Agent(() => Agent.Client.UpdateContainerAsync(new UpdateContainerRequest { ContainerId = containerId, ResourcesJson = resourcesJson },
            deadline: Agent.Deadline, cancellationToken: cancellationToken).ResponseAsync);

    public Task<StatsContainerResponse> StatsAsync(string containerId, CancellationToken cancellationToken) =>
        SandboxCall.Agent(() => Agent.StatsContainerAsync(containerId, cancellationToken));

    public Task<IReadOnlyList<ProcessInfo>> ListProcessesAsync(string containerId, CancellationToken cancellationToken) =>
        SandboxCall.Agent(() => Agent.ListProcessesAsync(containerId, cancellationToken));

    private AgentConnection Agent => Sandbox.Agent;

    public async ValueTask DisposeAsync() => await Sandbox.DestroyAsync().ConfigureAwait(false);
}

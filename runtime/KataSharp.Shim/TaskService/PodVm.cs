using System.Text.Json.Nodes;
using KataSharp.Protocol;
using KataSharp.Protocol.Errors;
using KataSharp.Runtime.Configuration;
using KataSharp.Runtime.Sandbox;
using KataSharp.Shim.Lifecycle;
using KataSharp.Shim.PortForward;
using Microsoft.Extensions.Logging;

namespace KataSharp.Shim.TaskService;

/// <summary>
/// The pod's micro-VM as the shim holds it: created by the pod's first container, sized from the
/// configuration plus the CRI sandbox resource annotations, and the agent in it.
/// </summary>
internal sealed class PodVm : IPodVm
{
    private readonly PodPortForwarder? _portForward;
    private readonly HostPodCgroup? _hostCgroup;

    private PodVm(Sandbox sandbox, VmSize size, PodPortForwarder? portForward, HostPodCgroup? hostCgroup)
    {
        Sandbox = sandbox;
        Size = size;
        _portForward = portForward;
        _hostCgroup = hostCgroup;
        Exited = WhenExited(sandbox);
        Agent = new PodAgent(sandbox.Agent);
    }

    public Sandbox Sandbox { get; }

    public string Id => Sandbox.Id;

    public Task<string> Exited { get; }

    public IPodAgent Agent { get; }

    public VmSize Size { get; }

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

        var (vcpus, memoryMiB) = VmSizing.Size(config.Hypervisor, spec.Annotations, HostCapacity.Current);
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

        PodPortForwarder? portForward = null;
        if (networkNamespace is { Length: > 0 })
        {
            try
            {
                portForward = await PodPortForwarding.TryStartAsync(networkNamespace, sandbox.Agent, loggerFactory, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                await sandbox.DestroyAsync().ConfigureAwait(false);
                throw;
            }
        }

        // Last, so that no failure above leaves a cgroup behind.
        var hostCgroup = sandbox.Hypervisor.Pid is { } pid
            ? HostPodCgroup.Join(StrictJson.Text((spec.Spec["linux"] as JsonObject)?["cgroupsPath"]), pid, loggerFactory.CreateLogger<PodVm>())
            : null;
        return new PodVm(sandbox, new VmSize(vcpus, memoryMiB), portForward, hostCgroup);
    }

    /// <summary>Null when the spec has no network namespace at all (host networking); empty when it asks for a new one.</summary>
    internal static string? NetworkNamespacePath(JsonObject spec)
    {
        if ((spec["linux"] as JsonObject)?["namespaces"] is not JsonArray namespaces)
        {
            return null;
        }

        foreach (var ns in namespaces)
        {
            if (ns is JsonObject entry && StrictJson.Text(entry["type"]) == "network")
            {
                return StrictJson.Text(entry["path"]) ?? "";
            }
        }

        return null;
    }

    private static string Hostname(JsonObject spec) => spec["hostname"]?.GetValue<string>() ?? "";

    private static async Task<string> WhenExited(Sandbox sandbox) => (await sandbox.Exited.ConfigureAwait(false)).ToString() ?? "";

    public async Task<IGuestContainer> CreateContainerAsync(ContainerOptions options, CancellationToken cancellationToken) =>
        new GuestContainer(await SandboxCall.Run(() => Sandbox.CreateContainerAsync(options, cancellationToken)).ConfigureAwait(false));

    public async ValueTask DisposeAsync()
    {
        if (_portForward is not null)
        {
            await _portForward.DisposeAsync().ConfigureAwait(false);
        }

        await Sandbox.DestroyAsync().ConfigureAwait(false);
        if (_hostCgroup is { } cgroup)
        {
            await cgroup.RemoveAsync().ConfigureAwait(false);
        }
    }
}

using KataSharp.Runtime.Configuration;

namespace KataSharp.Runtime.Hypervisors;

/// <summary>
/// Picks the host-guest channel (design decision 6) and the shared filesystem (decision 9)
/// from the configuration and what the host has.
/// </summary>
public static class ChannelSelector
{
    public const string VhostVsockDevice = "/dev/vhost-vsock";

    /// <exception cref="HypervisorException">A transport was asked for that this host or hypervisor cannot provide.</exception>
    public static AgentChannelKind ChooseAgentChannel(AgentTransportKind transport, HypervisorKind hypervisor, IHostSystem host)
    {
        _ = hypervisor; // Cloud Hypervisor will pick hybrid vsock here.
        return transport switch
        {
            AgentTransportKind.Serial => AgentChannelKind.Serial,
            AgentTransportKind.Vsock => host.FileExists(VhostVsockDevice)
                ? AgentChannelKind.Vsock
                : throw new HypervisorException($"agent.transport is vsock, but {VhostVsockDevice} does not exist (load vhost_vsock, or use transport: auto or serial)"),
            AgentTransportKind.HybridVsock => throw new HypervisorException("agent.transport hybrid-vsock needs a hypervisor that provides it (Cloud Hypervisor); QEMU offers vsock or serial"),
            _ => host.FileExists(VhostVsockDevice) ? AgentChannelKind.Vsock : AgentChannelKind.Serial,
        };
    }

    /// <exception cref="HypervisorException">virtio-fs was asked for but no virtiofsd exists.</exception>
    public static SharedFsType ChooseSharedFs(SharedFsConfig config, IHostSystem host) => config.Kind switch
    {
        SharedFsKind.NineP => SharedFsType.NineP,
        SharedFsKind.VirtioFs => host.FileExists(config.VirtiofsdPath)
            ? SharedFsType.VirtioFs
            : throw new HypervisorException($"sharedFs.kind is virtiofs, but {config.VirtiofsdPath} does not exist (set sharedFs.virtiofsdPath, or use kind: auto or 9p)"),
        _ => host.FileExists(config.VirtiofsdPath) ? SharedFsType.VirtioFs : SharedFsType.NineP,
    };
}

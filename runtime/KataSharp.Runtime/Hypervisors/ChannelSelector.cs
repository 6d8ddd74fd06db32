using KataSharp.Runtime.Configuration;

namespace KataSharp.Runtime.Hypervisors;

/// <summary>
/// Picks the host-guest channel (design decision 6) and the shared filesystem (decision 9)
/// from the configuration, what the hypervisor offers and what the host has.
/// </summary>
public static class ChannelSelector
{
    public const string VhostVsockDevice = "/dev/vhost-vsock";

    /// <summary>
    /// The configured transport if the VMM offers it and the host has what it needs; for <c>auto</c>,
    /// vsock where /dev/vhost-vsock exists, else hybrid vsock, else serial, among what the VMM offers.
    /// </summary>
    /// <exception cref="HypervisorException">A transport was asked for that this host or hypervisor cannot provide.</exception>
    public static AgentChannelKind ChooseAgentChannel(AgentTransportKind transport, IHypervisorDriver hypervisor, IHostSystem host)
    {
        var offered = hypervisor.AgentChannels;
        AgentChannelKind Require(AgentChannelKind kind, string transportName) => offered.Contains(kind)
            ? kind
            : throw new HypervisorException($"agent.transport is {transportName}, but {hypervisor.Name} offers {string.Join(" or ", offered.Order().Select(Describe))}");
        switch (transport)
        {
            case AgentTransportKind.Serial:
                return Require(AgentChannelKind.Serial, "serial");
            case AgentTransportKind.HybridVsock:
                return Require(AgentChannelKind.HybridVsock, "hybrid-vsock");
            case AgentTransportKind.Vsock:
                Require(AgentChannelKind.Vsock, "vsock");
                return host.FileExists(VhostVsockDevice)
                    ? AgentChannelKind.Vsock
                    : throw new HypervisorException($"agent.transport is vsock, but {VhostVsockDevice} does not exist (load vhost_vsock, or use transport: auto or serial)");
            default:
                if (offered.Contains(AgentChannelKind.Vsock) && host.FileExists(VhostVsockDevice))
                {
                    return AgentChannelKind.Vsock;
                }

                return offered.Contains(AgentChannelKind.HybridVsock) ? AgentChannelKind.HybridVsock : Require(AgentChannelKind.Serial, "auto");
        }
    }

    private static string Describe(AgentChannelKind kind) => kind switch
    {
        AgentChannelKind.HybridVsock => "hybrid-vsock",
        _ => kind.ToString().ToLowerInvariant(),
    };

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

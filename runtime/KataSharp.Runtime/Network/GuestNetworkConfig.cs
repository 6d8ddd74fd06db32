using Grpc.Core;
using KataSharp.Protocol.Agent.V1;
using KataSharp.Runtime.Agent;

namespace KataSharp.Runtime.Network;

/// <summary>
/// What the agent must configure in the guest so that the VM takes the place of the pod namespace's
/// endpoints: the same names, MACs, MTUs and addresses, the same routes, the same static neighbours.
/// </summary>
public sealed record GuestNetworkConfig(IReadOnlyList<Interface> Interfaces, IReadOnlyList<Route> Routes, IReadOnlyList<ArpNeighbor> Neighbors)
{
    /// <summary>NUD_PERMANENT: the only neighbour state worth copying (Kata's validGuestNeighbor).</summary>
    public const uint NudPermanent = 0x80;

    public static GuestNetworkConfig Empty { get; } = new([], [], []);

    public bool IsEmpty => Interfaces.Count == 0;

    /// <summary>
    /// The guest's share of <paramref name="snapshot"/> for <paramref name="endpoints"/>. Left out, as Kata does: IPv6
    /// link-local addresses (the guest derives the same ones from the same MAC), routes the kernel derives from
    /// addresses (protocol kernel), special route types, routes through other links, and non-permanent neighbours.
    /// </summary>
    public static GuestNetworkConfig From(NetnsSnapshot snapshot, IReadOnlyList<NetnsLink> endpoints)
    {
        var names = endpoints.Select(e => e.Name).ToHashSet(StringComparer.Ordinal);
        var interfaces = endpoints.Select(link =>
        {
            var iface = new Interface { Name = link.Name, HwAddr = link.Mac, Mtu = (uint)link.Mtu, Up = true };
            iface.Addresses.AddRange(link.Addresses
                .Where(a => !(a.IsIPv6 && a.Address.IsIPv6LinkLocal))
                .Select(a => new IpAddress { Family = a.IsIPv6 ? IpFamily.Ipv6 : IpFamily.Ipv4, Address = a.Address.ToString(), PrefixLength = (uint)a.PrefixLength }));
            return iface;
        }).ToList();
        var routes = snapshot.Routes
            .Where(r => r.Type == "unicast" && r.Protocol != "kernel" && names.Contains(r.Device))
            .Select(r => new Route
            {
                Destination = r.Destination,
                Gateway = r.Gateway,
                Device = r.Device,
                Source = r.Source,
                Scope = r.Scope,
                Family = r.IsIPv6 ? IpFamily.Ipv6 : IpFamily.Ipv4,
                Mtu = r.Mtu,
            })
            .ToList();
        var neighbors = snapshot.Neighbors
            .Where(n => n.Permanent && names.Contains(n.Device))
            .Select(n => new ArpNeighbor { IpAddress = n.Address, HwAddr = n.Mac, Device = n.Device, State = NudPermanent })
            .ToList();
        return new GuestNetworkConfig(interfaces, routes, neighbors);
    }

    /// <summary>
    /// Sends the configuration to the agent: UpdateInterface per NIC, then UpdateRoutes, then AddArpNeighbors (Kata's
    /// setupNetworks order). Call it once the agent answers and before any container starts.
    /// </summary>
    /// <exception cref="RpcException">The agent refused a step; the detail names the interface or the step.</exception>
    public async Task ApplyAsync(AgentConnection agent, CancellationToken cancellationToken)
    {
        if (Interfaces.Count > 1)
        {
            // The guest names its NICs in probe order, which need not be ours: renaming the NIC with eth1's MAC to
            // "eth1" fails while another NIC is called eth1. Move every NIC to a name nobody uses first.
            for (var i = 0; i < Interfaces.Count; i++)
            {
                var parked = Interfaces[i].Clone();
                parked.Name = $"ksnic{i}";
                parked.Addresses.Clear();
                parked.Up = false;
                await CallAsync($"UpdateInterface {parked.HwAddr}", () => agent.Client.UpdateInterfaceAsync(
                    new UpdateInterfaceRequest { Interface = parked }, deadline: agent.Deadline, cancellationToken: cancellationToken), cancellationToken).ConfigureAwait(false);
            }
        }

        foreach (var iface in Interfaces)
        {
            await CallAsync($"UpdateInterface {iface.Name} ({iface.HwAddr})", () => agent.Client.UpdateInterfaceAsync(
                new UpdateInterfaceRequest { Interface = iface }, deadline: agent.Deadline, cancellationToken: cancellationToken), cancellationToken).ConfigureAwait(false);
        }

        if (Routes.Count > 0)
        {
            var routes = new Routes();
            routes.Routes_.AddRange(Routes);
            await CallAsync("UpdateRoutes", () => agent.Client.UpdateRoutesAsync(
                new UpdateRoutesRequest { Routes = routes }, deadline: agent.Deadline, cancellationToken: cancellationToken), cancellationToken).ConfigureAwait(false);
        }

        if (Neighbors.Count > 0)
        {
            var request = new AddArpNeighborsRequest();
            request.Neighbors.AddRange(Neighbors);
            await CallAsync("AddArpNeighbors", () => agent.Client.AddArpNeighborsAsync(
                request, deadline: agent.Deadline, cancellationToken: cancellationToken), cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task CallAsync<T>(string what, Func<AsyncUnaryCall<T>> call, CancellationToken cancellationToken)
    {
        try
        {
            using var pending = call();
            await pending.ResponseAsync.ConfigureAwait(false);
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.Cancelled && cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException(e.Status.Detail, e, cancellationToken);
        }
        catch (RpcException e)
        {
            throw new RpcException(new Status(e.StatusCode, $"guest network: {what}: {e.Status.Detail}"));
        }
    }
}

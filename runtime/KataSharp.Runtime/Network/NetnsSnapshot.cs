using System.Net;
using System.Net.Sockets;

namespace KataSharp.Runtime.Network;

/// <summary>An address on a link, with its prefix length ("10.0.0.2/24").</summary>
public sealed record NetnsAddress(IPAddress Address, int PrefixLength)
{
    public bool IsIPv6 => Address.AddressFamily == AddressFamily.InterNetworkV6;

    public override string ToString() => $"{Address}/{PrefixLength}";
}

/// <summary>A link of the namespace as <c>ip -d addr</c> shows it.</summary>
/// <param name="Kind">The rtnetlink kind ("veth", "macvlan", "tun", ...); empty for a physical device.</param>
/// <param name="LinkType">"ether", "loopback", "none", ...</param>
public sealed record NetnsLink(int Index, string Name, string Mac, int Mtu, string Kind, string LinkType, bool Up, IReadOnlyList<NetnsAddress> Addresses);

/// <summary>A route of the main table.</summary>
/// <param name="Destination">A CIDR, or empty for the default route.</param>
/// <param name="Scope">The rtnetlink scope number: 0 universe, 200 site, 253 link, 254 host.</param>
/// <param name="Protocol">Who added it: "kernel" for the routes the kernel derives from addresses, "boot" when ip omits it.</param>
/// <param name="Type">"unicast", or a special type (unreachable, blackhole, ...).</param>
public sealed record NetnsRoute(string Destination, string Gateway, string Device, string Source, uint Scope, bool IsIPv6, string Protocol, uint Mtu, string Type);

/// <summary>A neighbour (ARP or NDP) entry.</summary>
public sealed record NetnsNeighbor(string Address, string Mac, string Device, bool Permanent);

/// <summary>What a network namespace holds: its links with their addresses, its main-table routes and its neighbours.</summary>
public sealed record NetnsSnapshot(IReadOnlyList<NetnsLink> Links, IReadOnlyList<NetnsRoute> Routes, IReadOnlyList<NetnsNeighbor> Neighbors)
{
    /// <summary>Link kinds that are never a pod's endpoint: our own taps and other tun devices, and devices that carry no pod traffic.</summary>
    private static readonly HashSet<string> NonEndpointKinds = new(StringComparer.Ordinal) { "tun", "bridge", "dummy", "ifb", "vxlan", "geneve" };

    /// <summary>
    /// The links to give the VM: Ethernet links other than loopback and tun/tap devices, in ifindex order.
    /// CNI normally leaves exactly one veth (eth0); multus and friends add more.
    /// </summary>
    public IReadOnlyList<NetnsLink> Endpoints =>
        Links.Where(l => l.LinkType == "ether" && !NonEndpointKinds.Contains(l.Kind) && l.Name != "lo").OrderBy(l => l.Index).ToList();

    public NetnsLink? FindLink(string name) => Links.FirstOrDefault(l => l.Name == name);
}

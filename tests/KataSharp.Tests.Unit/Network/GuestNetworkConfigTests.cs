using KataSharp.Protocol.Agent.V1;
using KataSharp.Runtime.Network;

namespace KataSharp.Tests.Unit.Network;

public sealed class GuestNetworkConfigTests
{
    private static NetnsSnapshot Snapshot() => new(
        IpJsonParser.ParseLinks(IpSamples.Addr),
        [.. IpJsonParser.ParseRoutes(IpSamples.Routes4, false), .. IpJsonParser.ParseRoutes(IpSamples.Routes6, true),
            new NetnsRoute("10.50.0.0/16", "10.60.0.1", "other0", "", 0, false, "boot", 0, "unicast")],
        IpJsonParser.ParseNeighbors(IpSamples.Neigh));

    [Fact]
    public void The_guest_nic_gets_the_endpoints_name_mac_mtu_and_addresses_but_link_local()
    {
        var snapshot = Snapshot();
        var config = GuestNetworkConfig.From(snapshot, snapshot.Endpoints);

        var iface = Assert.Single(config.Interfaces);
        Assert.Equal("eth0", iface.Name);
        Assert.Equal(IpSamples.VethMac, iface.HwAddr);
        Assert.Equal(1450u, iface.Mtu);
        Assert.True(iface.Up);
        Assert.Equal(
            [(IpFamily.Ipv4, "10.99.7.2", 24u), (IpFamily.Ipv6, "fd00:99::2", 64u)],
            iface.Addresses.Select(a => (a.Family, a.Address, a.PrefixLength)));
    }

    [Fact]
    public void Routes_leave_out_kernel_special_and_foreign_device_routes()
    {
        var snapshot = Snapshot();
        var config = GuestNetworkConfig.From(snapshot, snapshot.Endpoints);

        Assert.Equal(["", "10.99.9.0/24", "169.254.1.1/32", ""], config.Routes.Select(r => r.Destination));
        var defaultV4 = config.Routes[0];
        Assert.Equal(("10.99.7.1", "eth0", IpFamily.Ipv4), (defaultV4.Gateway, defaultV4.Device, defaultV4.Family));
        Assert.Equal(("10.99.7.2", 1400u), (config.Routes[1].Source, config.Routes[1].Mtu));
        Assert.Equal(253u, config.Routes[2].Scope);
        Assert.Equal(("fd00:99::1", IpFamily.Ipv6), (config.Routes[3].Gateway, config.Routes[3].Family));
    }

    [Fact]
    public void Only_permanent_neighbours_are_copied()
    {
        var snapshot = Snapshot();
        var neighbor = Assert.Single(GuestNetworkConfig.From(snapshot, snapshot.Endpoints).Neighbors);

        Assert.Equal(("10.99.7.9", "02:00:00:00:00:09", "eth0", GuestNetworkConfig.NudPermanent),
            (neighbor.IpAddress, neighbor.HwAddr, neighbor.Device, neighbor.State));
    }

    [Fact]
    public void A_namespace_without_endpoints_gives_an_empty_config()
    {
        var snapshot = new NetnsSnapshot(IpJsonParser.ParseLinks(IpSamples.Addr).Take(1).ToList(), IpJsonParser.ParseRoutes(IpSamples.Routes4, false), []);
        var config = GuestNetworkConfig.From(snapshot, snapshot.Endpoints);

        Assert.True(config.IsEmpty);
        Assert.Empty(config.Routes);
    }
}

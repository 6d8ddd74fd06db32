using KataSharp.Agent.Network;
using KataSharp.Protocol.Agent.V1;
using Xunit;

namespace KataSharp.Tests.Unit.Agent;

public sealed class IpOutputParserTests
{
    [Fact]
    public void OneLineAddressesAreGroupedByLink()
    {
        const string output = """
            1: lo    inet 127.0.0.1/8 scope host lo\       valid_lft forever preferred_lft forever
            1: lo    inet6 ::1/128 scope host \       valid_lft forever preferred_lft forever
            4: eth0    inet 192.0.2.2/24 brd 192.0.2.255 scope global eth0\       valid_lft forever preferred_lft forever
            4: eth0    inet6 fd00::2/64 scope global flags 02 \       valid_lft forever preferred_lft forever
            5: veth1@if3    inet 10.0.0.5/16 scope global veth1
            """;

        var addresses = IpOutputParser.ParseAddresses(output);

        Assert.Equal(["lo", "eth0", "veth1"], addresses.Keys);
        var eth0 = addresses["eth0"];
        Assert.Equal((IpFamily.Ipv4, "192.0.2.2", 24u), (eth0[0].Family, eth0[0].Address, eth0[0].PrefixLength));
        Assert.Equal((IpFamily.Ipv6, "fd00::2", 64u), (eth0[1].Family, eth0[1].Address, eth0[1].PrefixLength));
    }

    [Fact]
    public void RoutesAreParsedAndSpecialOnesSkipped()
    {
        const string v4 = "default via 192.0.2.1 dev eth0 \n192.0.2.0/24 dev eth0 scope link  src 192.0.2.2 \n10.1.0.0/16 via 192.0.2.254 dev eth0 mtu lock 1400\nbroadcast 192.0.2.255 dev eth0\n";
        const string v6 = "fd00::/64 dev eth0  metric 256 \ndefault via fd00::1 dev eth0  metric 1024 \nmulticast ff00::/8 dev eth0  metric 256 \n";

        var routes = IpOutputParser.ParseRoutes(v4, IpFamily.Ipv4);
        var routes6 = IpOutputParser.ParseRoutes(v6, IpFamily.Ipv6);

        Assert.Equal(3, routes.Count);
        Assert.Equal(("", "192.0.2.1", "eth0"), (routes[0].Destination, routes[0].Gateway, routes[0].Device));
        Assert.Equal(("192.0.2.0/24", "192.0.2.2", 253u), (routes[1].Destination, routes[1].Source, routes[1].Scope));
        Assert.Equal(("10.1.0.0/16", 1400u), (routes[2].Destination, routes[2].Mtu));
        Assert.Equal(2, routes6.Count);
        Assert.Equal(("", "fd00::1", IpFamily.Ipv6), (routes6[1].Destination, routes6[1].Gateway, routes6[1].Family));
    }

    [Fact]
    public void RouteArgumentsRoundTripTheFields()
    {
        var args = NetworkConfigurator.RouteArguments(new Route { Destination = "10.0.0.0/8", Gateway = "10.0.0.1", Device = "eth0", Source = "10.0.0.2", Scope = 253, Mtu = 1400 });
        var defaultV6 = NetworkConfigurator.RouteArguments(new Route { Gateway = "fd00::1", Family = IpFamily.Ipv6 });

        Assert.Equal(["", "route", "replace", "10.0.0.0/8", "via", "10.0.0.1", "dev", "eth0", "src", "10.0.0.2", "scope", "link", "mtu", "1400"], args);
        Assert.Equal(["-6", "route", "replace", "default", "via", "fd00::1"], defaultV6);
    }
}

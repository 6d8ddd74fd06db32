using System.Net;
using KataSharp.Runtime.Network;

namespace KataSharp.Tests.Unit.Network;

public sealed class IpJsonParserTests
{
    [Fact]
    public void Links_have_their_mac_mtu_kind_state_and_addresses()
    {
        var links = IpJsonParser.ParseLinks(IpSamples.Addr);

        Assert.Equal(["lo", "eth0"], links.Select(l => l.Name));
        var eth0 = links[1];
        Assert.Equal(2, eth0.Index);
        Assert.Equal(IpSamples.VethMac, eth0.Mac);
        Assert.Equal(1450, eth0.Mtu);
        Assert.Equal("veth", eth0.Kind);
        Assert.Equal("ether", eth0.LinkType);
        Assert.True(eth0.Up);
        Assert.Equal(["10.99.7.2/24", "fd00:99::2/64", "fe80::4c2a:2eff:fe2b:b20c/64"], eth0.Addresses.Select(a => a.ToString()));
        Assert.False(eth0.Addresses[0].IsIPv6);
        Assert.True(eth0.Addresses[1].IsIPv6);
        Assert.Equal("", links[0].Kind);
    }

    [Fact]
    public void Routes_keep_gateway_source_scope_protocol_mtu_and_type()
    {
        var routes = IpJsonParser.ParseRoutes(IpSamples.Routes4, ipv6: false);

        Assert.Equal(5, routes.Count);
        Assert.Equal(new NetnsRoute("", "10.99.7.1", "eth0", "", 0, false, "boot", 0, "unicast"), routes[0]);
        Assert.Equal(new NetnsRoute("10.99.7.0/24", "", "eth0", "10.99.7.2", 253, false, "kernel", 0, "unicast"), routes[1]);
        Assert.Equal(1400u, routes[2].Mtu);
        Assert.Equal("unreachable", routes[3].Type);
        // ip prints host routes without their prefix length.
        Assert.Equal("169.254.1.1/32", routes[4].Destination);
    }

    [Fact]
    public void Ipv6_routes_are_marked_as_such()
    {
        var routes = IpJsonParser.ParseRoutes(IpSamples.Routes6, ipv6: true);

        Assert.All(routes, r => Assert.True(r.IsIPv6));
        Assert.Equal(new NetnsRoute("", "fd00:99::1", "eth0", "", 0, true, "static", 0, "unicast"), routes[2]);
    }

    [Fact]
    public void Neighbours_without_a_link_address_are_dropped_and_permanence_is_kept()
    {
        var neighbors = IpJsonParser.ParseNeighbors(IpSamples.Neigh);

        Assert.Equal(2, neighbors.Count);
        Assert.Equal(new NetnsNeighbor("10.99.7.9", "02:00:00:00:00:09", "eth0", true), neighbors[0]);
        Assert.False(neighbors[1].Permanent);
    }

    [Fact]
    public void Ingress_qdiscs_are_found_by_device()
    {
        Assert.Empty(IpJsonParser.ParseIngressQdiscDevices(IpSamples.NoIngress));
        Assert.Equal(["eth0"], IpJsonParser.ParseIngressQdiscDevices(IpSamples.EthIngress));
    }

    [Theory]
    [InlineData("")]
    [InlineData("  \n")]
    [InlineData("[]")]
    public void Empty_output_is_an_empty_list(string json)
    {
        Assert.Empty(IpJsonParser.ParseLinks(json));
        Assert.Empty(IpJsonParser.ParseRoutes(json, ipv6: false));
        Assert.Empty(IpJsonParser.ParseNeighbors(json));
    }

    [Theory]
    [InlineData("Error: Unknown device type.")]
    [InlineData("{\"not\":\"a list\"}")]
    [InlineData("[{\"ifindex\":\"x\"}]")]
    public void Garbage_is_a_network_error_naming_the_command(string text)
    {
        var e = Assert.Throws<NetworkException>(() => IpJsonParser.ParseLinks(text));
        Assert.Contains("ip -j addr", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("global", 0u)]
    [InlineData(null, 0u)]
    [InlineData("link", 253u)]
    [InlineData("host", 254u)]
    [InlineData("site", 200u)]
    [InlineData("42", 42u)]
    public void Scopes_become_rtnetlink_numbers(string? scope, uint number) => Assert.Equal(number, IpJsonParser.ScopeNumber(scope));

    [Fact]
    public void Endpoints_are_ethernet_links_but_lo_and_tun_in_ifindex_order()
    {
        var snapshot = new NetnsSnapshot(IpJsonParser.ParseLinks(IpSamples.TwoVeths), [], []);

        Assert.Equal(["eth0", "net1"], snapshot.Endpoints.Select(e => e.Name));
        Assert.False(snapshot.Endpoints[0].Up);
    }

    [Fact]
    public void Addresses_parse_back_to_ip_addresses()
    {
        var link = IpJsonParser.ParseLinks(IpSamples.Addr)[1];
        Assert.Equal(IPAddress.Parse("10.99.7.2"), link.Addresses[0].Address);
        Assert.True(link.Addresses[2].Address.IsIPv6LinkLocal);
    }
}

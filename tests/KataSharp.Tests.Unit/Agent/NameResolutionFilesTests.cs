using KataSharp.Agent.Sandbox;
using KataSharp.Protocol.Agent.V1;
using Xunit;

namespace KataSharp.Tests.Unit.Agent;

public sealed class NameResolutionFilesTests
{
    [Fact]
    public void ResolvConfHasNameserverSearchAndOptionsLines()
    {
        var dns = new Dns { Servers = { "10.96.0.10", "8.8.8.8" }, Searches = { "default.svc.cluster.local", "svc.cluster.local" }, Options = { "ndots:5", "edns0" } };

        Assert.Equal(
            "nameserver 10.96.0.10\nnameserver 8.8.8.8\nsearch default.svc.cluster.local svc.cluster.local\noptions ndots:5 edns0\n",
            NameResolutionFiles.RenderResolvConf(dns));
    }

    [Fact]
    public void ResolvConfOmitsEmptySectionsAndCannotBeSplitByNewlines()
    {
        var dns = new Dns { Servers = { "1.1.1.1\nnameserver 6.6.6.6", "" } };

        Assert.Equal("nameserver 1.1.1.1 nameserver 6.6.6.6\n", NameResolutionFiles.RenderResolvConf(dns));
        Assert.Equal(string.Empty, NameResolutionFiles.RenderResolvConf(null));
    }

    [Fact]
    public void HostsHasLocalhostTheHostnameAndExtraLines()
    {
        var hosts = NameResolutionFiles.RenderHosts("web-0", ["10.1.1.1 db", "", "10.1.1.2 cache"]);

        Assert.Equal(
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\tweb-0\n10.1.1.1 db\n10.1.1.2 cache\n",
            hosts);
    }

    [Fact]
    public void HostsWithoutHostnameHasOnlyLocalhost()
    {
        Assert.Equal("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n", NameResolutionFiles.RenderHosts("", []));
    }
}

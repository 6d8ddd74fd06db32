using System.Net;
using KataSharp.Runtime.Network;

namespace KataSharp.Tests.Unit.Network;

public sealed class SubnetPoolTests
{
    [Fact]
    public void The_pool_is_10_213_slash_16_in_slash_30s()
    {
        Assert.Equal(16384, SubnetPool.Count);
        Assert.Equal("10.213.0.0/30", SubnetPool.SubnetAt(0).ToString());
        Assert.Equal("10.213.0.4/30", SubnetPool.SubnetAt(1).ToString());
        Assert.Equal("10.213.1.0/30", SubnetPool.SubnetAt(64).ToString());
        Assert.Equal("10.213.255.252/30", SubnetPool.SubnetAt(16383).ToString());
        Assert.Throws<ArgumentOutOfRangeException>(() => SubnetPool.SubnetAt(16384));
        Assert.Equal(("10.213.1.1", "10.213.1.2"), (SubnetPool.GatewayOf(SubnetPool.SubnetAt(64)).ToString(), SubnetPool.GuestAddressOf(SubnetPool.SubnetAt(64)).ToString()));
    }

    [Fact]
    public void Choose_takes_the_lowest_free_subnet_that_no_host_route_overlaps()
    {
        Assert.Equal(0, SubnetPool.Choose(new HashSet<int>(), []));
        Assert.Equal(2, SubnetPool.Choose(new HashSet<int> { 0, 1 }, []));
        Assert.Equal(3, SubnetPool.Choose(new HashSet<int> { 0 }, [IPNetwork.Parse("10.213.0.4/30"), IPNetwork.Parse("10.213.0.9/32")]));
        Assert.Equal(64, SubnetPool.Choose(new HashSet<int>(), [IPNetwork.Parse("10.213.0.0/24"), IPNetwork.Parse("192.168.0.0/16")]));
        Assert.Null(SubnetPool.Choose(new HashSet<int>(), [IPNetwork.Parse("10.0.0.0/8")]));
    }

    [Fact]
    public void Overlap_is_symmetric_and_family_aware()
    {
        var small = IPNetwork.Parse("10.213.0.4/30");
        var large = IPNetwork.Parse("10.213.0.0/16");
        Assert.True(SubnetPool.Overlaps(small, large));
        Assert.True(SubnetPool.Overlaps(large, small));
        Assert.False(SubnetPool.Overlaps(small, IPNetwork.Parse("10.213.0.8/30")));
        Assert.False(SubnetPool.Overlaps(small, IPNetwork.Parse("fd00::/8")));
    }
}

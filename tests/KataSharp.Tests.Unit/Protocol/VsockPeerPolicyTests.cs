using KataSharp.Protocol.Transport;
using Xunit;

namespace KataSharp.Tests.Unit.Protocol;

public sealed class VsockPeerPolicyTests
{
    [Theory]
    [InlineData(2u, 1023u, true)]
    [InlineData(2u, 512u, true)]
    [InlineData(2u, 1u, true)]
    [InlineData(2u, 1024u, false)]   // the first port an unprivileged host user can bind
    [InlineData(2u, 49152u, false)]  // an ephemeral port: a connect without bind
    [InlineData(1u, 1023u, false)]   // VMADDR_CID_LOCAL: loopback inside the guest
    [InlineData(3u, 1000u, false)]   // another guest
    [InlineData(0xFFFFFFFFu, 100u, false)]
    public void OnlyTheHostsPrivilegedPortsAreTrusted(uint cid, uint port, bool trusted)
    {
        Assert.Equal(trusted, VsockPeerPolicy.IsTrusted(cid, port));
        Assert.Equal(trusted, VsockPeerPolicy.IsTrusted(VsockAddress.Encode(port, cid), out var seenCid, out var seenPort));
        Assert.Equal((cid, port), (seenCid, seenPort));
    }

    [Fact]
    public void APeerAddressThatIsNotASockaddrVmIsRefused()
    {
        var unix = new byte[VsockAddress.Size];
        unix[0] = 1;

        Assert.False(VsockPeerPolicy.IsTrusted(unix, out _, out _));
        Assert.False(VsockPeerPolicy.IsTrusted(new byte[4], out _, out _));
        Assert.False(VsockPeerPolicy.IsTrusted(ReadOnlySpan<byte>.Empty, out _, out _));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(7)]
    [InlineData(int.MaxValue)]
    [InlineData(-5)]
    public void HostPortCandidatesCoverEveryPrivilegedPortOnceAndNoOther(int seed)
    {
        var ports = VsockPeerPolicy.HostPortCandidates(seed).ToList();

        Assert.Equal((int)(VsockPeerPolicy.MaxPrivilegedPort - VsockPeerPolicy.MinHostPort + 1), ports.Count);
        Assert.Equal(ports.Count, ports.Distinct().Count());
        Assert.All(ports, p => Assert.True(VsockPeerPolicy.IsTrusted(VsockPeerPolicy.HostCid, p)));
        Assert.All(ports, p => Assert.InRange(p, VsockPeerPolicy.MinHostPort, VsockPeerPolicy.MaxPrivilegedPort));
    }

    [Fact]
    public void DifferentSeedsStartAtDifferentPorts()
    {
        Assert.NotEqual(VsockPeerPolicy.HostPortCandidates(1).First(), VsockPeerPolicy.HostPortCandidates(2).First());
    }
}

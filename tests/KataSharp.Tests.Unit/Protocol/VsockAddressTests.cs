using KataSharp.Protocol.Transport;
using Xunit;

namespace KataSharp.Tests.Unit.Protocol;

public sealed class VsockAddressTests
{
    [Fact]
    public void AgentListenAddressIsSixteenBytesInSockaddrVmLayout()
    {
        var address = VsockAddress.Encode(VsockAddress.AgentPort);

        Assert.Equal(
            new byte[] { 40, 0, 0, 0, 0x00, 0x04, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0 },
            address);
    }

    [Fact]
    public void PortAndCidAreLittleEndian()
    {
        var address = VsockAddress.Encode(0x01020304, cid: 3);

        Assert.Equal(new byte[] { 0x04, 0x03, 0x02, 0x01 }, address[4..8]);
        Assert.Equal(new byte[] { 3, 0, 0, 0 }, address[8..12]);
        Assert.Equal((0x01020304u, 3u), VsockAddress.Decode(address));
    }

    [Fact]
    public void DecodeRejectsOtherFamilies()
    {
        var unix = new byte[16];
        unix[0] = 1;

        Assert.Throws<ArgumentException>(() => VsockAddress.Decode(unix));
        Assert.Throws<ArgumentException>(() => VsockAddress.Decode(new byte[8]));
    }
}

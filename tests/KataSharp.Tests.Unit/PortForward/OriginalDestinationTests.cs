using System.Net;
using KataSharp.Shim.PortForward;

namespace KataSharp.Tests.Unit.PortForward;

public sealed class OriginalDestinationTests
{
    [Fact]
    public void Parse_reads_a_sockaddr_in_with_the_port_and_address_in_network_order()
    {
        byte[] sockaddr = [2, 0, 0x1F, 0x90, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];

        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 8080), OriginalDestination.Parse(sockaddr));
    }

    [Theory]
    [InlineData(new byte[] { 10, 0, 0x1F, 0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 })]
    [InlineData(new byte[] { 2, 0, 0x1F })]
    public void Parse_rejects_what_is_not_an_ipv4_sockaddr(byte[] sockaddr) =>
        Assert.Throws<FormatException>(() => OriginalDestination.Parse(sockaddr));
}

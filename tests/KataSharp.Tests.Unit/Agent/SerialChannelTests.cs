using System.Net.Sockets;
using KataSharp.Agent.Channels;
using KataSharp.Native;
using KataSharp.Protocol.Ttrpc;
using Xunit;

namespace KataSharp.Tests.Unit.Agent;

public sealed class SerialChannelTests
{
    [Fact]
    public void PortsAreFoundByTheirVirtioName()
    {
        var sys = Directory.CreateTempSubdirectory("virtio-ports").FullName;
        try
        {
            foreach (var (port, name) in new[] { ("vport0p0", "org.qemu.console"), ("vport1p1", "katasharp.agent"), ("vport1p2", "katasharp.log") })
            {
                Directory.CreateDirectory(Path.Combine(sys, port));
                File.WriteAllText(Path.Combine(sys, port, "name"), name + "\n");
            }

            Assert.Equal(["vport1p1"], SerialChannel.FindPorts(sys, SerialChannel.PortName));
            Assert.Empty(SerialChannel.FindPorts(Path.Combine(sys, "missing"), SerialChannel.PortName));
        }
        finally
        {
            Directory.Delete(sys, recursive: true);
        }
    }

    /// <summary>
    /// The port stream over a connected fd (a Unix socket stands in for the vport): ttrpc calls
    /// flow both ways, and the peer going away ends the server's ServeAsync, as a host disconnect must.
    /// </summary>
    [Fact]
    public async Task PortStreamCarriesTtrpcAndEndsWhenThePeerLeaves()
    {
        var path = Path.Combine(Path.GetTempPath(), $"serial-{Guid.NewGuid():N}.sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(1);
        var hostSide = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await hostSide.ConnectAsync(new UnixDomainSocketEndPoint(path));
        using var guestSocket = await listener.AcceptAsync();
        File.Delete(path);
        var guestFd = FdOps.Duplicate((int)guestSocket.Handle);
        guestSocket.Dispose();

        var registry = new TtrpcServiceRegistry();
        registry.Add("test.Echo", "Echo", (payload, _) => Task.FromResult(payload));
        var server = new TtrpcServer(registry);
        var serving = server.ServeAsync(new SerialPortStream(guestFd, "test"), "serial", CancellationToken.None);

        await using (var client = new TtrpcClient(new NetworkStream(hostSide, ownsSocket: true)))
        {
            var big = new byte[1024 * 1024];
            Random.Shared.NextBytes(big);
            Assert.Equal(big, await client.CallAsync("test.Echo", "Echo", big));
            Assert.Equal("hi"u8.ToArray(), await client.CallAsync("test.Echo", "Echo", "hi"u8.ToArray()));
        }

        await serving.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(guestFd.IsClosed);
    }
}

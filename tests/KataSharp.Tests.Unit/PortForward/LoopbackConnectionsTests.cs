using System.Net;
using System.Net.Sockets;
using System.Text;
using Grpc.Core;
using KataSharp.Agent.PortForward;
using KataSharp.Protocol.Agent.V1;
using KataSharp.Protocol.Errors;

namespace KataSharp.Tests.Unit.PortForward;

/// <summary>The agent's end of port-forwarding, against real servers on this machine's loopback.</summary>
public sealed class LoopbackConnectionsTests : IDisposable
{
    private static readonly TimeSpan Hang = TimeSpan.FromSeconds(30);
    private readonly LoopbackConnections _connections = new();
    private readonly TcpListener _server = new(IPAddress.Loopback, 0);

    public LoopbackConnectionsTests() => _server.Start();

    private uint Port => (uint)((IPEndPoint)_server.LocalEndpoint).Port;

    public void Dispose()
    {
        _connections.Dispose();
        _server.Stop();
    }

    private Task<ulong> OpenAsync(string address = "127.0.0.1", uint? port = null) =>
        _connections.OpenAsync(new OpenPortForwardRequest { Address = address, Port = port ?? Port }, CancellationToken.None);

    [Fact]
    public async Task A_connection_carries_bytes_both_ways_and_a_host_half_close_reaches_the_server_as_eof()
    {
        var id = await OpenAsync();
        using var server = await _server.AcceptSocketAsync().WaitAsync(Hang);

        await _connections.WriteAsync(new WritePortForwardRequest { ConnectionId = id, Data = Google.Protobuf.ByteString.CopyFromUtf8("ping") }, CancellationToken.None);
        _connections.Close(new ClosePortForwardRequest { ConnectionId = id, WriteOnly = true });
        var received = new byte[16];
        Assert.Equal(4, await server.ReceiveAsync(received).WaitAsync(Hang));
        Assert.Equal(0, await server.ReceiveAsync(received).WaitAsync(Hang));

        await server.SendAsync("pong"u8.ToArray());
        server.Shutdown(SocketShutdown.Send);
        var reply = await _connections.ReadAsync(new ReadPortForwardRequest { ConnectionId = id, MaxBytes = 64 }, CancellationToken.None);
        Assert.Equal(("pong", false), (reply.Data.ToStringUtf8(), reply.Eof));
        var eof = await _connections.ReadAsync(new ReadPortForwardRequest { ConnectionId = id }, CancellationToken.None);
        Assert.True(eof.Eof);
        Assert.True(eof.Data.IsEmpty);
    }

    [Fact]
    public async Task A_read_never_returns_more_than_asked_or_than_the_chunk()
    {
        var id = await OpenAsync();
        using var server = await _server.AcceptSocketAsync().WaitAsync(Hang);
        await server.SendAsync(new byte[3 * LoopbackConnections.MaxChunk]);

        var small = await _connections.ReadAsync(new ReadPortForwardRequest { ConnectionId = id, MaxBytes = 10 }, CancellationToken.None);
        var large = await _connections.ReadAsync(new ReadPortForwardRequest { ConnectionId = id, MaxBytes = uint.MaxValue }, CancellationToken.None);

        Assert.InRange(small.Data.Length, 1, 10);
        Assert.InRange(large.Data.Length, 1, LoopbackConnections.MaxChunk);
    }

    [Fact]
    public async Task Closing_a_connection_ends_a_blocked_read_with_eof_and_is_idempotent()
    {
        var id = await OpenAsync();
        using var server = await _server.AcceptSocketAsync().WaitAsync(Hang);
        var read = _connections.ReadAsync(new ReadPortForwardRequest { ConnectionId = id }, CancellationToken.None);

        _connections.Close(new ClosePortForwardRequest { ConnectionId = id });
        _connections.Close(new ClosePortForwardRequest { ConnectionId = id });

        Assert.True((await read.WaitAsync(Hang)).Eof);
        Assert.Equal(0, _connections.Count);
        var gone = await Assert.ThrowsAsync<KataSharpException>(() => _connections.ReadAsync(new ReadPortForwardRequest { ConnectionId = id }, CancellationToken.None));
        Assert.Equal(ErrorKind.NotFound, gone.Kind);
    }

    [Fact]
    public async Task A_second_read_while_one_is_running_is_refused()
    {
        var id = await OpenAsync();
        using var server = await _server.AcceptSocketAsync().WaitAsync(Hang);
        var first = _connections.ReadAsync(new ReadPortForwardRequest { ConnectionId = id }, CancellationToken.None);

        var e = await Assert.ThrowsAsync<KataSharpException>(() => _connections.ReadAsync(new ReadPortForwardRequest { ConnectionId = id }, CancellationToken.None));
        Assert.Equal(ErrorKind.FailedPrecondition, e.Kind);

        await server.SendAsync("x"u8.ToArray());
        Assert.Equal("x", (await first.WaitAsync(Hang)).Data.ToStringUtf8());
    }

    [Theory]
    [InlineData("10.0.0.1", 80u)]
    [InlineData("169.254.169.254", 80u)]
    [InlineData("not-an-address", 80u)]
    [InlineData("127.0.0.1", 0u)]
    [InlineData("127.0.0.1", 65536u)]
    public async Task Anything_but_a_loopback_port_is_refused_as_invalid(string address, uint port)
    {
        var e = await Assert.ThrowsAsync<KataSharpException>(() => OpenAsync(address, port));

        Assert.Equal(ErrorKind.InvalidArgument, e.Kind);
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
    }

    [Fact]
    public async Task A_port_nothing_listens_on_is_unavailable_and_leaves_no_connection()
    {
        var port = Port;
        _server.Stop();

        var e = await Assert.ThrowsAsync<KataSharpException>(() => OpenAsync(port: port));

        Assert.Equal(ErrorKind.Unavailable, e.Kind);
        Assert.Equal(0, _connections.Count);
    }

    [Ipv6LoopbackFact]
    public async Task An_ipv4_loopback_that_refuses_falls_back_to_ipv6_loopback_as_containerd_does()
    {
        using var v6 = new TcpListener(IPAddress.IPv6Loopback, 0);
        v6.Start();

        var id = await OpenAsync(port: (uint)((IPEndPoint)v6.LocalEndpoint).Port);
        using var server = await v6.AcceptSocketAsync().WaitAsync(Hang);
        await server.SendAsync(Encoding.ASCII.GetBytes("six"));

        Assert.Equal("six", (await _connections.ReadAsync(new ReadPortForwardRequest { ConnectionId = id }, CancellationToken.None)).Data.ToStringUtf8());
    }

    [Fact]
    public async Task No_more_than_the_limit_are_open_at_once_and_closing_one_makes_room()
    {
        var ids = new List<ulong>();
        for (var i = 0; i < LoopbackConnections.MaxConnections; i++)
        {
            ids.Add(await OpenAsync());
        }

        var e = await Assert.ThrowsAsync<KataSharpException>(() => OpenAsync());
        Assert.Equal(ErrorKind.ResourceExhausted, e.Kind);

        _connections.Close(new ClosePortForwardRequest { ConnectionId = ids[0] });
        await OpenAsync();
        Assert.Equal(LoopbackConnections.MaxConnections, _connections.Count);
    }
}

/// <summary>A fact that needs ::1; on a host without it, it is reported as skipped.</summary>
public sealed class Ipv6LoopbackFactAttribute : FactAttribute
{
    public Ipv6LoopbackFactAttribute()
    {
        try
        {
            using var probe = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
            probe.Bind(new IPEndPoint(IPAddress.IPv6Loopback, 0));
        }
        catch (SocketException e)
        {
            Skip = $"needs the IPv6 loopback, which this host lacks ({e.SocketErrorCode})";
        }
    }
}

using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using Grpc.Core;
using KataSharp.Protocol.Agent.V1;
using KataSharp.Protocol.Ttrpc;
using KataSharp.Runtime.Agent;
using KataSharp.Runtime.Hypervisors;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace KataSharp.Tests.Unit.Runtime;

/// <summary>An agent double for the host-side connection logic only (never a stand-in for the real agent in a feature test).</summary>
internal sealed class FakeAgent : KataSharp.Protocol.Agent.V1.Agent.AgentBase
{
    public int NotServingAnswers { get; set; }
    public int Checks;

    public override Task<CheckResponse> Check(CheckRequest request, ServerCallContext context)
    {
        var n = Interlocked.Increment(ref Checks);
        return Task.FromResult(new CheckResponse
        {
            Status = n <= NotServingAnswers ? CheckResponse.Types.ServingStatus.NotServing : CheckResponse.Types.ServingStatus.Serving,
        });
    }

    public override Task<GuestDetailsResponse> GetGuestDetails(GuestDetailsRequest request, ServerCallContext context) =>
        Task.FromResult(new GuestDetailsResponse { AgentVersion = "fake-1", KernelRelease = "6.1.0", Transport = "serial" });
}

public sealed class AgentConnectionTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ks-agent-").FullName;
    private readonly CancellationTokenSource _stop = new();

    public void Dispose()
    {
        _stop.Cancel();
        Directory.Delete(_dir, recursive: true);
    }

    private static AgentTimeouts Timeouts(double bootSeconds) =>
        new(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(bootSeconds)) { Probe = TimeSpan.FromMilliseconds(200) };

    private string Serve(FakeAgent agent)
    {
        var path = Path.Combine(_dir, "agent.sock");
        var registry = new TtrpcServiceRegistry();
        KataSharp.Protocol.Agent.V1.Agent.BindService(registry, agent);
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(4);
        _ = new TtrpcServer(registry).ListenAsync(listener, _stop.Token);
        _stop.Token.Register(listener.Dispose);
        return path;
    }

    [Fact]
    public async Task Waits_until_the_agent_is_serving_then_reads_its_details()
    {
        var agent = new FakeAgent { NotServingAnswers = 2 };
        var path = Serve(agent);
        await using var connection = await AgentConnection.WaitForAgentAsync(new AgentChannel(AgentChannelKind.Serial, path), Timeouts(10), null, NullLogger.Instance, CancellationToken.None);
        Assert.True(agent.Checks >= 3, $"{agent.Checks} checks"); // probes overlap, so one more may be in flight
        Assert.Equal("fake-1", connection.GuestDetails.AgentVersion);
        Assert.True(connection.IsConnected);
    }

    [Fact]
    public async Task Keeps_dialling_until_the_socket_appears()
    {
        var path = Path.Combine(_dir, "agent.sock");
        var wait = AgentConnection.WaitForAgentAsync(new AgentChannel(AgentChannelKind.Serial, path), Timeouts(10), null, NullLogger.Instance, CancellationToken.None);
        await Task.Delay(300);
        Serve(new FakeAgent());
        await using var connection = await wait;
        Assert.Equal("6.1.0", connection.GuestDetails.KernelRelease);
    }

    [Fact]
    public async Task A_silent_peer_times_out_with_the_boot_timeout()
    {
        // Like a virtio-serial port the guest has not opened: the connect succeeds, nothing answers.
        var path = Path.Combine(_dir, "silent.sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(4);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<AgentException>(() =>
            AgentConnection.WaitForAgentAsync(new AgentChannel(AgentChannelKind.Serial, path), Timeouts(1), null, NullLogger.Instance, CancellationToken.None));
        Assert.Contains("did not answer", e.Message, StringComparison.Ordinal);
        Assert.InRange(clock.Elapsed.TotalSeconds, 0.9, 5);
    }

    [Fact]
    public async Task Gives_up_at_once_when_the_vm_has_exited()
    {
        var path = Path.Combine(_dir, "none.sock");
        var e = await Assert.ThrowsAsync<AgentException>(() =>
            AgentConnection.WaitForAgentAsync(new AgentChannel(AgentChannelKind.Serial, path), Timeouts(30), Task.CompletedTask, NullLogger.Instance, CancellationToken.None));
        Assert.Contains("VM exited", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cancellation_is_not_reported_as_a_timeout()
    {
        var path = Path.Combine(_dir, "none.sock");
        using var cancel = new CancellationTokenSource(200);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            AgentConnection.WaitForAgentAsync(new AgentChannel(AgentChannelKind.Serial, path), Timeouts(30), null, NullLogger.Instance, cancel.Token));
    }

    [Fact]
    public void Vsock_address_is_a_16_byte_sockaddr_vm()
    {
        var address = KataSharp.Protocol.Transport.VsockAddress.Encode(port: 1024, cid: 0x01020304);
        Assert.Equal(16, address.Length);
        Assert.Equal(40, BinaryPrimitives.ReadUInt16LittleEndian(address.AsSpan(0)));
        Assert.Equal(0, BinaryPrimitives.ReadUInt16LittleEndian(address.AsSpan(2)));
        Assert.Equal(1024u, BinaryPrimitives.ReadUInt32LittleEndian(address.AsSpan(4)));
        Assert.Equal(0x01020304u, BinaryPrimitives.ReadUInt32LittleEndian(address.AsSpan(8)));
        Assert.All(address[12..], b => Assert.Equal(0, b));
    }

    [Fact]
    public async Task Hybrid_vsock_sends_connect_and_leaves_the_stream_after_the_reply()
    {
        var path = Path.Combine(_dir, "hv.sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(1);
        var server = Task.Run(async () =>
        {
            using var peer = await listener.AcceptAsync();
            var buffer = new byte[64];
            var n = await peer.ReceiveAsync(buffer);
            var request = Encoding.ASCII.GetString(buffer, 0, n);
            // The reply and the first agent bytes arrive together: the connector must not eat the latter.
            await peer.SendAsync(Encoding.ASCII.GetBytes("OK 1073741824\nPAYLOAD"));
            await Task.Delay(200);
            return request;
        });

        await using var stream = await HybridVsockConnector.ConnectAsync(path, 1024, TimeSpan.FromSeconds(5), CancellationToken.None);
        var rest = new byte[7];
        await stream.ReadExactlyAsync(rest);
        Assert.Equal("PAYLOAD", Encoding.ASCII.GetString(rest));
        Assert.Equal("CONNECT 1024\n", await server);
    }

    [Fact]
    public async Task Hybrid_vsock_refusal_is_an_error()
    {
        var path = Path.Combine(_dir, "hv2.sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(1);
        _ = Task.Run(async () =>
        {
            using var peer = await listener.AcceptAsync();
            await peer.ReceiveAsync(new byte[64]);
            peer.Shutdown(SocketShutdown.Send);
        });
        await Assert.ThrowsAsync<IOException>(() => HybridVsockConnector.ConnectAsync(path, 1024, TimeSpan.FromSeconds(5), CancellationToken.None));
    }
}

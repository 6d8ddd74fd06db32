using System.Net;
using System.Net.Sockets;
using System.Text;
using KataSharp.Protocol.Errors;
using KataSharp.Shim.PortForward;
using Microsoft.Extensions.Logging.Abstractions;

namespace KataSharp.Tests.Unit.PortForward;

/// <summary>
/// The bridge of one forwarded connection, between a real TCP connection (containerd's side) and a scripted
/// guest: bytes and half-closes in both directions, back-pressure, and what every failure leaves behind.
/// </summary>
public sealed class ForwardedConnectionTests : IAsyncLifetime
{
    private static readonly IPEndPoint Target = new(IPAddress.Loopback, 8080);
    private static readonly TimeSpan Hang = TimeSpan.FromSeconds(30);
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private Socket _client = null!;
    private Socket _host = null!;

    public async Task InitializeAsync()
    {
        _listener.Start();
        _client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var accepted = _listener.AcceptSocketAsync();
        await _client.ConnectAsync(_listener.LocalEndpoint);
        _host = await accepted;
    }

    public Task DisposeAsync()
    {
        _client.Dispose();
        _host.Dispose();
        _listener.Stop();
        return Task.CompletedTask;
    }

    private Task Run(IGuestLoopback guest, CancellationToken cancellationToken = default) =>
        new ForwardedConnection(_host, guest, NullLogger.Instance).RunAsync(() => Target, cancellationToken);

    private async Task<byte[]> ReadToEndAsync()
    {
        using var all = new MemoryStream();
        var buffer = new byte[8192];
        int read;
        while ((read = await _client.ReceiveAsync(buffer).WaitAsync(Hang)) > 0)
        {
            all.Write(buffer, 0, read);
        }

        return all.ToArray();
    }

    [Fact]
    public async Task Bytes_cross_both_ways_to_the_original_destination_and_each_eof_travels_as_a_half_close()
    {
        var guest = new ScriptedGuest();
        var run = Run(guest);

        await _client.SendAsync("GET / HTTP/1.0\r\n\r\n"u8.ToArray());
        _client.Shutdown(SocketShutdown.Send);
        await guest.HostEof.Task.WaitAsync(Hang);
        Assert.Equal("GET / HTTP/1.0\r\n\r\n", Encoding.ASCII.GetString(guest.FromHost));
        Assert.Equal(Target, guest.OpenedTo);

        // The host side is half-closed, yet the reply still comes back: the connection lives until both ends are done.
        guest.Send("HTTP/1.0 200 OK\r\n\r\nhello"u8.ToArray());
        guest.EndOfStream();

        Assert.Equal("HTTP/1.0 200 OK\r\n\r\nhello", Encoding.ASCII.GetString(await ReadToEndAsync()));
        await run.WaitAsync(Hang);
        Assert.Equal(1, guest.Closes);
    }

    [Fact]
    public async Task A_guest_with_nothing_listening_resets_the_host_side_so_containerd_reports_an_error()
    {
        var guest = new ScriptedGuest { Refuse = Errdefs.Unavailable("port-forward: cannot connect to 127.0.0.1:8080 in the guest: Connection refused") };

        await Run(guest).WaitAsync(Hang);

        var e = await Assert.ThrowsAsync<SocketException>(ReadToEndAsync);
        Assert.Equal(SocketError.ConnectionReset, e.SocketErrorCode);
        Assert.Equal(0, guest.Closes);
    }

    [Fact]
    public async Task A_guest_reply_larger_than_the_chunk_asked_for_resets_the_connection_and_releases_the_guest_side()
    {
        var guest = new ScriptedGuest();
        var run = Run(guest);

        guest.Send(new byte[ForwardedConnection.ChunkSize + 1]);

        await run.WaitAsync(Hang);
        var e = await Assert.ThrowsAsync<SocketException>(ReadToEndAsync);
        Assert.Equal(SocketError.ConnectionReset, e.SocketErrorCode);
        Assert.Equal(1, guest.Closes);
    }

    [Fact]
    public async Task A_guest_that_does_not_take_data_holds_the_host_back_one_bounded_chunk_at_a_time()
    {
        var gate = new SemaphoreSlim(0);
        var guest = new ScriptedGuest { WriteGate = gate };
        var run = Run(guest);
        var payload = new byte[5 * ForwardedConnection.ChunkSize];
        Random.Shared.NextBytes(payload);

        var sending = _client.SendAsync(payload);
        while (guest.WriteCalls == 0)
        {
            await Task.Yield();
        }

        // Until the guest takes the first chunk, nothing more is read from the host for it.
        Assert.Equal(1, guest.WriteCalls);
        Assert.Empty(guest.FromHost);

        gate.Release(payload.Length);
        await sending.WaitAsync(Hang);
        _client.Shutdown(SocketShutdown.Send);
        await guest.HostEof.Task.WaitAsync(Hang);

        Assert.Equal(payload, guest.FromHost);
        Assert.Equal(1, guest.MaxWritesInFlight);
        Assert.InRange(guest.LargestWrite, 1, ForwardedConnection.ChunkSize);

        guest.EndOfStream();
        await run.WaitAsync(Hang);
    }

    [Fact]
    public async Task Stopping_the_pods_forwarder_ends_the_connection_and_releases_the_guest_side()
    {
        var guest = new ScriptedGuest();
        using var stop = new CancellationTokenSource();
        var run = Run(guest, stop.Token);
        await _client.SendAsync("x"u8.ToArray());
        while (guest.FromHost.Length == 0)
        {
            await Task.Yield();
        }

        await stop.CancelAsync();

        await run.WaitAsync(Hang);
        Assert.Equal(1, guest.Closes);
        var e = await Assert.ThrowsAsync<SocketException>(ReadToEndAsync);
        Assert.Equal(SocketError.ConnectionReset, e.SocketErrorCode);
    }
}

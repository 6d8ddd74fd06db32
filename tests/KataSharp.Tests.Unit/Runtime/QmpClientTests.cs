using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using KataSharp.Runtime.Hypervisors.Qemu;
using Xunit;

namespace KataSharp.Tests.Unit.Runtime;

/// <summary>A scripted QMP peer on a Unix socket: greets, then answers each command with what the test says.</summary>
internal sealed class FakeQmpServer : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly Func<JsonObject, FakeQmpServer, Task<string?>> _respond;
    private readonly Task _serve;
    private NetworkStream? _stream;

    public FakeQmpServer(string path, Func<JsonObject, FakeQmpServer, Task<string?>> respond, bool greet = true)
    {
        Path = path;
        _respond = respond;
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _listener.Bind(new UnixDomainSocketEndPoint(path));
        _listener.Listen(1);
        _serve = ServeAsync(greet);
    }

    public string Path { get; }
    public List<string> Commands { get; } = [];

    public async Task SendAsync(string line) => await _stream!.WriteAsync(Encoding.UTF8.GetBytes(line + "\r\n"));

    public void Close() => _stream?.Socket.Close();

    private async Task ServeAsync(bool greet)
    {
        using var socket = await _listener.AcceptAsync();
        _stream = new NetworkStream(socket, ownsSocket: false);
        if (greet)
        {
            await SendAsync("""{"QMP": {"version": {"qemu": {"micro": 19, "minor": 2, "major": 7}, "package": ""}, "capabilities": ["oob"]}}""");
        }

        using var reader = new StreamReader(_stream);
        try
        {
            while (await reader.ReadLineAsync() is { } line)
            {
                var command = JsonNode.Parse(line)!.AsObject();
                lock (Commands)
                {
                    Commands.Add(command["execute"]!.GetValue<string>());
                }

                var reply = command["execute"]!.GetValue<string>() == "qmp_capabilities"
                    ? """{"return": {}, "id": ID}"""
                    : await _respond(command, this);
                if (reply is not null)
                {
                    await SendAsync(reply.Replace("ID", command["id"]!.ToJsonString(), StringComparison.Ordinal));
                }
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or SocketException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Dispose();
        Close();
        try
        {
            await _serve.WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception)
        {
        }
    }
}

public sealed class QmpClientTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);
    private readonly string _dir = Directory.CreateTempSubdirectory("ks-qmp-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string SocketPath => System.IO.Path.Combine(_dir, "qmp.sock");

    [Fact]
    public async Task Handshake_then_query_status()
    {
        await using var server = new FakeQmpServer(SocketPath, (c, _) => Task.FromResult<string?>(
            c["execute"]!.GetValue<string>() == "query-status" ? """{"return": {"status": "running", "running": true}, "id": ID}""" : null));
        await using var qmp = await QmpClient.ConnectAsync(SocketPath, Timeout, CancellationToken.None);
        Assert.Equal("7.2.19", qmp.Version);
        Assert.Equal("running", await qmp.QueryStatusAsync(Timeout, CancellationToken.None));
        Assert.Equal(["qmp_capabilities", "query-status"], server.Commands);
    }

    [Fact]
    public async Task Errors_become_QmpException_with_the_class()
    {
        await using var server = new FakeQmpServer(SocketPath, (_, _) => Task.FromResult<string?>(
            """{"error": {"class": "CommandNotFound", "desc": "The command foo has not been found"}, "id": ID}"""));
        await using var qmp = await QmpClient.ConnectAsync(SocketPath, Timeout, CancellationToken.None);
        var e = await Assert.ThrowsAsync<QmpException>(() => qmp.ExecuteAsync("foo", null, Timeout, CancellationToken.None));
        Assert.Equal("CommandNotFound", e.ErrorClass);
    }

    [Fact]
    public async Task Events_are_delivered_and_do_not_disturb_replies()
    {
        await using var server = new FakeQmpServer(SocketPath, async (c, s) =>
        {
            await s.SendAsync("""{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "SHUTDOWN", "data": {"guest": true, "reason": "guest-shutdown"}}""");
            return """{"return": {}, "id": ID}""";
        });
        await using var qmp = await QmpClient.ConnectAsync(SocketPath, Timeout, CancellationToken.None);
        var received = new TaskCompletionSource<QmpEvent>();
        qmp.EventReceived += e => received.TrySetResult(e);
        await qmp.SystemPowerdownAsync(Timeout, CancellationToken.None);
        var ev = await received.Task.WaitAsync(Timeout);
        Assert.Equal("SHUTDOWN", ev.Name);
        Assert.Equal("guest-shutdown", ev.Data!["reason"]!.GetValue<string>());
    }

    [Fact]
    public async Task Quit_succeeds_when_qemu_closes_the_connection()
    {
        await using var server = new FakeQmpServer(SocketPath, (_, s) =>
        {
            s.Close();
            return Task.FromResult<string?>(null);
        });
        await using var qmp = await QmpClient.ConnectAsync(SocketPath, Timeout, CancellationToken.None);
        await qmp.QuitAsync(Timeout, CancellationToken.None); // the closed connection is the answer: no exception
        await qmp.Completion.WaitAsync(Timeout);

        Assert.Equal(["qmp_capabilities", "quit"], server.Commands);
        var e = await Assert.ThrowsAsync<QmpException>(() => qmp.ExecuteAsync("query-status", null, Timeout, CancellationToken.None));
        Assert.Contains("closed", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Quit_refused_by_qemu_is_an_error()
    {
        await using var server = new FakeQmpServer(SocketPath, (_, _) => Task.FromResult<string?>("""{"error": {"class": "GenericError", "desc": "no"}, "id": ID}"""));
        await using var qmp = await QmpClient.ConnectAsync(SocketPath, Timeout, CancellationToken.None);

        var e = await Assert.ThrowsAsync<QmpException>(() => qmp.QuitAsync(Timeout, CancellationToken.None));
        Assert.Equal("GenericError", e.ErrorClass);
    }

    [Fact]
    public async Task A_command_without_an_answer_times_out()
    {
        await using var server = new FakeQmpServer(SocketPath, (_, _) => Task.FromResult<string?>(null));
        await using var qmp = await QmpClient.ConnectAsync(SocketPath, Timeout, CancellationToken.None);
        var e = await Assert.ThrowsAsync<QmpException>(() => qmp.ExecuteAsync("query-status", null, TimeSpan.FromMilliseconds(200), CancellationToken.None));
        Assert.Contains("timed out", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_peer_that_never_greets_fails_the_connect_in_time()
    {
        await using var server = new FakeQmpServer(SocketPath, (_, _) => Task.FromResult<string?>(null), greet: false);
        var e = await Assert.ThrowsAsync<QmpException>(() => QmpClient.ConnectAsync(SocketPath, TimeSpan.FromMilliseconds(300), CancellationToken.None));
        Assert.Contains("did not answer", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pending_commands_fail_when_the_connection_drops()
    {
        await using var server = new FakeQmpServer(SocketPath, async (_, s) =>
        {
            await Task.Delay(100);
            s.Close();
            return null;
        });
        await using var qmp = await QmpClient.ConnectAsync(SocketPath, Timeout, CancellationToken.None);
        var e = await Assert.ThrowsAsync<QmpException>(() => qmp.ExecuteAsync("query-status", null, Timeout, CancellationToken.None));
        Assert.Contains("closed", e.Message, StringComparison.Ordinal);
    }
}

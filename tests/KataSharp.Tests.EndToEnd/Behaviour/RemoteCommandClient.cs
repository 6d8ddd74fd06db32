using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace KataSharp.Tests.EndToEnd.Behaviour;

/// <summary>
/// A client for the URLs CRI <c>Exec</c> and <c>Attach</c> return: Kubernetes' remote-command protocol over a
/// WebSocket with the <c>v4.channel.k8s.io</c> subprotocol, which containerd's streaming server (1.6 and 2.x, from
/// kubelet's streaming package) serves beside SPDY/3.1. Every binary message starts with a channel byte:
/// 0 stdin, 1 stdout, 2 stderr (client-bound), 3 the final status as JSON, 4 terminal resizes. v4 cannot half-close
/// stdin, so commands fed on stdin must end by themselves. The server closes the socket once the process has exited
/// and its output is sent.
/// </summary>
public sealed partial class RemoteCommandClient : IAsyncDisposable
{
    private const string Subprotocol = "v4.channel.k8s.io";
    private const byte StdinChannel = 0;
    private const byte StdoutChannel = 1;
    private const byte StderrChannel = 2;
    private const byte StatusChannel = 3;
    private const byte ResizeChannel = 4;

    private readonly ClientWebSocket _socket;
    private readonly MemoryStream _stdout = new();
    private readonly MemoryStream _stderr = new();
    private readonly Lock _gate = new();
    private readonly SemaphoreSlim _sendGate = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task<string> _receiving;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private RemoteCommandClient(ClientWebSocket socket)
    {
        _socket = socket;
        _receiving = ReceiveAsync();
    }

    public string Stdout => Text(_stdout);

    public string Stderr => Text(_stderr);

    /// <param name="url">The streaming URL from CRI (http://...); it is single-use and expires within a minute.</param>
    public static async Task<RemoteCommandClient> ConnectAsync(string url, TimeSpan timeout)
    {
        var socket = new ClientWebSocket();
        socket.Options.AddSubProtocol(Subprotocol);
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await socket.ConnectAsync(new Uri(Regex.Replace(url, "^http", "ws")), deadline.Token);
            if (socket.SubProtocol != Subprotocol)
            {
                throw new CheckFailedException($"the streaming server chose subprotocol '{socket.SubProtocol}', not {Subprotocol}");
            }

            return new RemoteCommandClient(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public Task SendStdinAsync(string text) => SendAsync(StdinChannel, Encoding.UTF8.GetBytes(text));

    /// <summary>A terminal size change, as kubectl sends it (JSON with Width and Height).</summary>
    public Task ResizeAsync(ushort columns, ushort rows) =>
        SendAsync(ResizeChannel, Encoding.UTF8.GetBytes($$"""{"Width":{{columns}},"Height":{{rows}}}"""));

    /// <summary>Waits until stdout satisfies <paramref name="condition"/>; fails with what did arrive after <paramref name="timeout"/>.</summary>
    public async Task<string> WaitForStdoutAsync(Func<string, bool> condition, string what, TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                changed = _changed.Task;
            }

            var text = Stdout;
            if (condition(text))
            {
                return text;
            }

            if (_receiving.IsCompleted)
            {
                throw new CheckFailedException($"the stream ended before {what}; stdout '{text}', stderr '{Stderr}'");
            }

            try
            {
                await changed.WaitAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                throw new CheckFailedException($"no {what} within {timeout.TotalSeconds} s; stdout '{Stdout}', stderr '{Stderr}'");
            }
        }
    }

    /// <summary>Waits for the server to end the session and returns the command's exit code from the status channel.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        var status = await _receiving.WaitAsync(timeout);
        return ExitCode(status);
    }

    /// <summary>
    /// The exit code in a v4 status: Success is 0; a NonZeroExitCode failure carries the code in a cause
    /// whose reason is ExitCode. Anything else (an error starting the command) fails the check.
    /// </summary>
    public static int ExitCode(string status)
    {
        if (status.Length == 0)
        {
            throw new CheckFailedException("the session ended without a status");
        }

        using var json = JsonDocument.Parse(status);
        var root = json.RootElement;
        if (root.TryGetProperty("status", out var outcome) && outcome.GetString() == "Success")
        {
            return 0;
        }

        if (root.TryGetProperty("reason", out var reason) && reason.GetString() == "NonZeroExitCode"
            && root.TryGetProperty("details", out var details) && details.TryGetProperty("causes", out var causes))
        {
            foreach (var cause in causes.EnumerateArray())
            {
                if (cause.TryGetProperty("reason", out var r) && r.GetString() == "ExitCode" && int.TryParse(cause.GetProperty("message").GetString(), out var code))
                {
                    return code;
                }
            }
        }

        throw new CheckFailedException($"the command failed: {status}");
    }

    private async Task SendAsync(byte channel, byte[] payload)
    {
        var message = new byte[payload.Length + 1];
        message[0] = channel;
        payload.CopyTo(message, 1);
        await _sendGate.WaitAsync(_stop.Token);
        try
        {
            await _socket.SendAsync(message, WebSocketMessageType.Binary, endOfMessage: true, _stop.Token);
        }
        finally
        {
            _sendGate.Release();
        }
    }

    /// <summary>Collects stdout and stderr until the server closes; returns the status channel's text.</summary>
    private async Task<string> ReceiveAsync()
    {
        var status = new MemoryStream();
        var buffer = new byte[64 * 1024];
        var message = new MemoryStream();
        try
        {
            while (true)
            {
                var result = await _socket.ReceiveAsync(buffer, _stop.Token);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    break;
                }

                message.Write(buffer, 0, result.Count);
                if (!result.EndOfMessage)
                {
                    continue;
                }

                var bytes = message.ToArray();
                message.SetLength(0);
                // The server opens each write channel with an empty message: a channel byte alone.
                if (bytes.Length > 1)
                {
                    var target = bytes[0] switch
                    {
                        StdoutChannel => _stdout,
                        StderrChannel => _stderr,
                        StatusChannel => status,
                        _ => throw new CheckFailedException($"a message on unexpected channel {bytes[0]}"),
                    };
                    Append(target, bytes.AsSpan(1));
                }
            }
        }
        catch (WebSocketException) when (_socket.State is WebSocketState.Closed or WebSocketState.Aborted)
        {
            // The server may drop the connection right after its close frame.
        }
        finally
        {
            lock (_gate)
            {
                _changed.TrySetResult();
            }
        }

        return Encoding.UTF8.GetString(status.ToArray());
    }

    private void Append(MemoryStream target, ReadOnlySpan<byte> data)
    {
        TaskCompletionSource changed;
        lock (_gate)
        {
            target.Write(data);
            changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        changed.TrySetResult();
    }

    private string Text(MemoryStream stream)
    {
        lock (_gate)
        {
            return Encoding.UTF8.GetString(stream.ToArray());
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _receiving.WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception)
        {
            // Teardown of a session the check is done with.
        }

        _socket.Abort();
        _socket.Dispose();
        _stop.Dispose();
        _sendGate.Dispose();
    }
}

using System.Buffers.Binary;
using System.Net.WebSockets;
using System.Text;

namespace KataSharp.Tests.EndToEnd.Streaming;

/// <summary>
/// A client for the URL CRI <c>PortForward</c> returns, in the websocket variant of the protocol that
/// containerd's streaming server (kubelet's cri/streaming portforward package, vendored by containerd 1.6 as
/// pkg/cri/streaming and by 2.x from k8s.io/kubelet) serves beside SPDY: subprotocol
/// <c>v4.channel.k8s.io</c>, every message prefixed by its channel byte, two channels per port (data, then
/// error), and the port (uint16, little endian) as the first message the server writes on each. The ports
/// come from the CRI request, so the URL needs no query. One URL forwards one connection per port: the
/// server dials when the websocket opens and closes the websocket when that connection ends.
/// </summary>
public sealed class PortForwardWebSocket : IAsyncDisposable
{
    public const string Subprotocol = "v4.channel.k8s.io";
    private const byte DataChannel = 0;
    private const byte ErrorChannel = 1;

    private readonly ClientWebSocket _socket;

    private PortForwardWebSocket(ClientWebSocket socket) => _socket = socket;

    /// <summary>Opens the stream for the first (only) port of the CRI request that returned <paramref name="url"/>.</summary>
    public static async Task<PortForwardWebSocket> ConnectAsync(string url, CancellationToken cancellationToken)
    {
        var uri = new UriBuilder(url);
        uri.Scheme = uri.Scheme == Uri.UriSchemeHttps ? "wss" : "ws";
        var socket = new ClientWebSocket();
        socket.Options.AddSubProtocol(Subprotocol);
        try
        {
            await socket.ConnectAsync(uri.Uri, cancellationToken);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return new PortForwardWebSocket(socket);
    }

    public async Task SendAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        var message = new byte[data.Length + 1];
        message[0] = DataChannel;
        data.CopyTo(message.AsMemory(1));
        await _socket.SendAsync(message, WebSocketMessageType.Binary, endOfMessage: true, cancellationToken);
    }

    /// <summary>
    /// Everything the server sends until it closes the stream: the bytes the pod's server answered and the
    /// text of the error channel (containerd's reason when it could not forward), each without the port header.
    /// </summary>
    public async Task<PortForwardResult> ReceiveUntilClosedAsync(CancellationToken cancellationToken)
    {
        var data = new MemoryStream();
        var error = new MemoryStream();
        var ports = new Dictionary<byte, int>();
        while (await ReceiveMessageAsync(cancellationToken) is { } message)
        {
            if (message.Length == 0)
            {
                continue;
            }

            var channel = message[0];
            var payload = message.AsMemory(1);
            if (channel is not (DataChannel or ErrorChannel))
            {
                throw new InvalidDataException($"port-forward stream: message on channel {channel}, but only 0 (data) and 1 (error) exist for one port");
            }

            if (!ports.ContainsKey(channel))
            {
                // The server's first message on each channel names the port it serves.
                ports[channel] = payload.Length >= 2 ? BinaryPrimitives.ReadUInt16LittleEndian(payload.Span) : -1;
                payload = payload.Length >= 2 ? payload[2..] : payload;
            }

            (channel == DataChannel ? data : error).Write(payload.Span);
        }

        return new PortForwardResult(data.ToArray(), Encoding.UTF8.GetString(error.ToArray()), ports.GetValueOrDefault(DataChannel, -1));
    }

    /// <returns>One whole message, or null once the server closed the websocket (or dropped the connection).</returns>
    private async Task<byte[]?> ReceiveMessageAsync(CancellationToken cancellationToken)
    {
        var message = new MemoryStream();
        var buffer = new byte[16 * 1024];
        while (true)
        {
            WebSocketReceiveResult result;
            try
            {
                result = await _socket.ReceiveAsync(buffer, cancellationToken);
            }
            catch (WebSocketException e) when (e.WebSocketErrorCode == WebSocketError.ConnectionClosedPrematurely)
            {
                return null;
            }

            if (result.MessageType == WebSocketMessageType.Close)
            {
                return null;
            }

            message.Write(buffer, 0, result.Count);
            if (result.EndOfMessage)
            {
                return message.ToArray();
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try
            {
                await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, timeout.Token);
            }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException)
            {
                // The server is gone already.
            }
        }

        _socket.Dispose();
    }
}

/// <summary>What one forwarded connection carried back: the data, the error channel's text, and the port the server named.</summary>
public sealed record PortForwardResult(byte[] Data, string Error, int Port)
{
    public string Text => Encoding.UTF8.GetString(Data);
}

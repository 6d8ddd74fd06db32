using System.Net;
using System.Net.Sockets;
using System.Text;

namespace KataSharp.Runtime.Metrics;

/// <summary>
/// Just enough HTTP/1.x for a Prometheus scrape, on any stream socket: a shim's metrics on a Unix socket in
/// its sandbox directory (as Kata's shim serves its monitor socket), the monitor's union on a TCP port. One
/// request per connection, answered and closed; no Kestrel, nothing NativeAOT cannot see.
/// </summary>
public static class MetricsHttp
{
    public const string Path = "/metrics";
    private const int MaxRequest = 8192;
    private static readonly TimeSpan ConnectionTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Answers GET <see cref="Path"/> with what <paramref name="collect"/> returns, until cancelled.</summary>
    public static async Task ServeAsync(Socket listener, Func<CancellationToken, Task<string>> collect, Action<string>? onError, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            Socket connection;
            try
            {
                connection = await listener.AcceptAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException || (e is SocketException && cancellationToken.IsCancellationRequested))
            {
                return;
            }

            _ = Task.Run(() => AnswerAsync(connection, collect, onError, cancellationToken), CancellationToken.None);
        }
    }

    /// <summary>Fetches <see cref="Path"/> from <paramref name="endpoint"/> (a Unix socket or a TCP address).</summary>
    /// <exception cref="IOException">No connection, no answer in time, or not 200.</exception>
    public static async Task<string> GetAsync(EndPoint endpoint, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        using var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, endpoint is UnixDomainSocketEndPoint ? ProtocolType.Unspecified : ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(endpoint, deadline.Token).ConfigureAwait(false);
            await socket.SendAsync(Encoding.ASCII.GetBytes($"GET {Path} HTTP/1.0\r\nHost: localhost\r\n\r\n"), deadline.Token).ConfigureAwait(false);
            using var response = new MemoryStream();
            var buffer = new byte[16384];
            int read;
            while ((read = await socket.ReceiveAsync(buffer, deadline.Token).ConfigureAwait(false)) > 0)
            {
                response.Write(buffer, 0, read);
            }

            var text = Encoding.UTF8.GetString(response.GetBuffer(), 0, (int)response.Length);
            var headerEnd = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (headerEnd < 0 || !text.StartsWith("HTTP/1.", StringComparison.Ordinal) || text.Split(' ', 3) is not [_, "200", _])
            {
                throw new IOException($"{endpoint}: not a 200 response: {text[..Math.Min(text.Length, 80)].ReplaceLineEndings(" ")}");
            }

            return text[(headerEnd + 4)..];
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new IOException($"{endpoint}: no answer within {timeout.TotalSeconds:0.#} s");
        }
        catch (SocketException e)
        {
            throw new IOException($"{endpoint}: {e.Message}", e);
        }
    }

    private static async Task AnswerAsync(Socket connection, Func<CancellationToken, Task<string>> collect, Action<string>? onError, CancellationToken stop)
    {
        using var _ = connection;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop);
        timeout.CancelAfter(ConnectionTimeout);
        try
        {
            var request = await ReadRequestAsync(connection, timeout.Token).ConfigureAwait(false);
            var parts = request.Split(' ', 3);
            string response;
            if (parts is not ["GET", _, _] || !parts[2].StartsWith("HTTP/1.", StringComparison.Ordinal))
            {
                response = Response("400 Bad Request", "text/plain", "only GET /metrics is served\n");
            }
            else if (parts[1].Split('?')[0] != Path)
            {
                response = Response("404 Not Found", "text/plain", "only GET /metrics is served\n");
            }
            else
            {
                response = Response("200 OK", MetricsText.ContentType, await collect(timeout.Token).ConfigureAwait(false));
            }

            await connection.SendAsync(Encoding.UTF8.GetBytes(response), timeout.Token).ConfigureAwait(false);
            connection.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or IOException)
        {
            onError?.Invoke(e.Message);
        }
    }

    /// <summary>The request line; the headers are read and ignored.</summary>
    private static async Task<string> ReadRequestAsync(Socket connection, CancellationToken cancellationToken)
    {
        var buffer = new byte[MaxRequest];
        var length = 0;
        while (length < buffer.Length)
        {
            var read = await connection.ReceiveAsync(buffer.AsMemory(length), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                break;
            }

            length += read;
            if (buffer.AsSpan(0, length).IndexOf("\r\n\r\n"u8) >= 0 || buffer.AsSpan(0, length).IndexOf("\n\n"u8) >= 0)
            {
                break;
            }
        }

        var text = Encoding.ASCII.GetString(buffer, 0, length);
        var end = text.IndexOf('\n', StringComparison.Ordinal);
        return (end < 0 ? text : text[..end]).TrimEnd('\r');
    }

    private static string Response(string status, string contentType, string body) =>
        $"HTTP/1.1 {status}\r\nContent-Type: {contentType}\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\nConnection: close\r\n\r\n{body}";
}

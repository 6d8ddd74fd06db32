using System.Net.Sockets;
using System.Text;

namespace KataSharp.Runtime.Agent;

/// <summary>
/// Hybrid vsock (Cloud Hypervisor, Firecracker): a Unix socket on the host where the first line
/// <c>CONNECT &lt;port&gt;\n</c> asks the VMM to open the guest's vsock port; it answers <c>OK &lt;host port&gt;\n</c>.
/// </summary>
internal static class HybridVsockConnector
{
    private const int MaxReplyLength = 64;

    public static async Task<Stream> ConnectAsync(string socketPath, uint port, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        NetworkStream? stream = null;
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), deadline.Token).ConfigureAwait(false);
            stream = new NetworkStream(socket, ownsSocket: true);
            await stream.WriteAsync(Encoding.ASCII.GetBytes($"CONNECT {port}\n"), deadline.Token).ConfigureAwait(false);
            var reply = await ReadLineAsync(stream, deadline.Token).ConfigureAwait(false);
            if (!reply.StartsWith("OK ", StringComparison.Ordinal))
            {
                throw new IOException($"hybrid vsock {socketPath}: CONNECT {port} was refused: '{reply}'");
            }

            return stream;
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            await Close(stream, socket).ConfigureAwait(false);
            throw new IOException($"hybrid vsock {socketPath}: no answer within {timeout.TotalSeconds:0.#} s", e);
        }
        catch
        {
            await Close(stream, socket).ConfigureAwait(false);
            throw;
        }
    }

    private static async Task Close(NetworkStream? stream, Socket socket)
    {
        if (stream is not null)
        {
            await stream.DisposeAsync().ConfigureAwait(false);
        }
        else
        {
            socket.Dispose();
        }
    }

    /// <summary>Reads one line a byte at a time: whatever follows it is the agent's ttrpc stream and must not be consumed.</summary>
    internal static async Task<string> ReadLineAsync(Stream stream, CancellationToken cancellationToken)
    {
        var line = new StringBuilder();
        var buffer = new byte[1];
        while (line.Length < MaxReplyLength)
        {
            if (await stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false) == 0)
            {
                throw new IOException("hybrid vsock: connection closed before the CONNECT reply");
            }

            if (buffer[0] == '\n')
            {
                return line.ToString().TrimEnd('\r');
            }

            line.Append((char)buffer[0]);
        }

        throw new IOException("hybrid vsock: CONNECT reply too long");
    }
}

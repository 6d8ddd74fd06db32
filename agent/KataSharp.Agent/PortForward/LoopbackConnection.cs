using System.Buffers;
using System.Net.Sockets;

namespace KataSharp.Agent.PortForward;

/// <summary>
/// One forwarded TCP connection to a server on the guest's loopback. At most one read and one write run
/// at a time (the host's bridge issues them in turn, one per direction), each bounded by a chunk, so the
/// guest socket's own buffers are the only buffering: a slow reader on either side holds the other back.
/// </summary>
internal sealed class LoopbackConnection : IDisposable
{
    private readonly Socket _socket;
    private int _reading;
    private int _writing;

    public LoopbackConnection(ulong id, Socket socket)
    {
        Id = id;
        _socket = socket;
    }

    public ulong Id { get; }

    /// <summary>Up to <paramref name="maxBytes"/> bytes; empty at EOF or when the connection is closed under the read.</summary>
    /// <exception cref="Protocol.Errors.KataSharpException">FailedPrecondition: another read is running.</exception>
    public async Task<(byte[] Data, bool Eof)> ReadAsync(int maxBytes, CancellationToken cancellationToken)
    {
        Enter(ref _reading, "read");
        try
        {
            var buffer = ArrayPool<byte>.Shared.Rent(maxBytes);
            try
            {
                var read = await _socket.ReceiveAsync(buffer.AsMemory(0, maxBytes), SocketFlags.None, cancellationToken).ConfigureAwait(false);
                return read == 0 ? ([], true) : (buffer.AsSpan(0, read).ToArray(), false);
            }
            catch (Exception e) when (e is ObjectDisposedException or SocketException { SocketErrorCode: SocketError.OperationAborted or SocketError.ConnectionReset })
            {
                // Closed by the host (Close) or reset by the server: either way nothing more will come.
                return ([], true);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
        finally
        {
            Volatile.Write(ref _reading, 0);
        }
    }

    /// <summary>Returns once the socket has taken every byte.</summary>
    /// <exception cref="Protocol.Errors.KataSharpException">FailedPrecondition: another write is running, or the server closed.</exception>
    public async Task WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        Enter(ref _writing, "write");
        try
        {
            while (!data.IsEmpty)
            {
                var sent = await _socket.SendAsync(data, SocketFlags.None, cancellationToken).ConfigureAwait(false);
                data = data[sent..];
            }
        }
        catch (Exception e) when (e is ObjectDisposedException or SocketException)
        {
            throw AgentErrors.FailedPrecondition($"port-forward connection {Id} is closed: {e.Message}");
        }
        finally
        {
            Volatile.Write(ref _writing, 0);
        }
    }

    /// <summary>The host side reached EOF: the server sees it as the client's FIN, exactly as with a direct connection.</summary>
    public void ShutdownWrite()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already reset or closed: there is nothing left to shut down.
        }
    }

    public void Dispose() => _socket.Dispose();

    private void Enter(ref int flag, string operation)
    {
        if (Interlocked.Exchange(ref flag, 1) != 0)
        {
            throw AgentErrors.FailedPrecondition($"port-forward connection {Id} already has a {operation} in progress");
        }
    }
}

using System.Collections.Concurrent;
using System.Net.Sockets;
using KataSharp.Protocol.Agent.V1;
using KataSharp.Protocol.Errors;

namespace KataSharp.Agent.PortForward;

/// <summary>
/// The guest end of port-forwarding: dials the guest's loopback for the host and keeps each connection by
/// id until the host closes it. The guest shares one network namespace with every container of the pod,
/// so a server bound to 127.0.0.1 inside a container is reachable here, as it is from containerd in the
/// pod's namespace under runc.
/// </summary>
internal sealed class LoopbackConnections : IDisposable
{
    /// <summary>Connections open at once; kubectl opens one per forwarded client connection.</summary>
    public const int MaxConnections = 256;

    /// <summary>The largest read or write chunk, and the read size when the host asks for none.</summary>
    public const int MaxChunk = 64 * 1024;

    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(10);

    private readonly ConcurrentDictionary<ulong, LoopbackConnection> _connections = new();
    private long _nextId;
    private int _open;

    public int Count => Volatile.Read(ref _open);

    /// <exception cref="Protocol.Errors.KataSharpException">
    /// InvalidArgument for a target that is not loopback; ResourceExhausted when too many are open;
    /// Unavailable when nothing listens there (connection refused); DeadlineExceeded when the connect hangs.
    /// </exception>
    public async Task<ulong> OpenAsync(OpenPortForwardRequest request, CancellationToken cancellationToken)
    {
        var target = LoopbackTarget.Parse(request.Address, request.Port);
        if (Interlocked.Increment(ref _open) > MaxConnections)
        {
            Interlocked.Decrement(ref _open);
            throw Errdefs.ResourceExhausted($"port-forward: {MaxConnections} connections are already open");
        }

        Socket socket;
        try
        {
            socket = await ConnectAsync(target, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            Interlocked.Decrement(ref _open);
            throw;
        }

        var connection = new LoopbackConnection((ulong)Interlocked.Increment(ref _nextId), socket);
        _connections[connection.Id] = connection;
        return connection.Id;
    }

    public async Task<ReadPortForwardResponse> ReadAsync(ReadPortForwardRequest request, CancellationToken cancellationToken)
    {
        var size = request.MaxBytes is 0 or > MaxChunk ? MaxChunk : (int)request.MaxBytes;
        var (data, eof) = await Find(request.ConnectionId).ReadAsync(size, cancellationToken).ConfigureAwait(false);
        return new ReadPortForwardResponse { Data = Google.Protobuf.UnsafeByteOperations.UnsafeWrap(data), Eof = eof };
    }

    public Task WriteAsync(WritePortForwardRequest request, CancellationToken cancellationToken)
    {
        if (request.Data.Length > MaxChunk)
        {
            throw AgentErrors.InvalidArgument($"port-forward write of {request.Data.Length} bytes exceeds the {MaxChunk}-byte chunk");
        }

        return Find(request.ConnectionId).WriteAsync(request.Data.Memory, cancellationToken);
    }

    /// <summary>Idempotent: closing a connection that is already gone is not an error, so a host retry is harmless.</summary>
    public void Close(ClosePortForwardRequest request)
    {
        if (request.WriteOnly)
        {
            if (_connections.TryGetValue(request.ConnectionId, out var open))
            {
                open.ShutdownWrite();
            }

            return;
        }

        if (_connections.TryRemove(request.ConnectionId, out var connection))
        {
            connection.Dispose();
            Interlocked.Decrement(ref _open);
        }
    }

    public void Dispose()
    {
        foreach (var id in _connections.Keys)
        {
            Close(new ClosePortForwardRequest { ConnectionId = id });
        }
    }

    private LoopbackConnection Find(ulong id) => _connections.TryGetValue(id, out var connection)
        ? connection
        : throw AgentErrors.NotFound($"port-forward connection {id} not found");

    private static async Task<Socket> ConnectAsync(LoopbackTarget target, CancellationToken cancellationToken)
    {
        SocketException? last = null;
        foreach (var endpoint in target.Candidates())
        {
            var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(ConnectTimeout);
            try
            {
                await socket.ConnectAsync(endpoint, timeout.Token).ConfigureAwait(false);
                return socket;
            }
            catch (SocketException e)
            {
                socket.Dispose();
                last = e;
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                socket.Dispose();
                throw new KataSharpException(ErrorKind.DeadlineExceeded, $"port-forward: connecting to {endpoint} in the guest timed out after {ConnectTimeout.TotalSeconds:0} s");
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }

        throw Errdefs.Unavailable($"port-forward: cannot connect to {target} in the guest: {last?.Message}");
    }
}

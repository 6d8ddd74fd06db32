using System.Net;
using System.Net.Sockets;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace KataSharp.Shim.PortForward;

/// <summary>
/// Bridges one connection containerd made in the pod's namespace to the same port on the guest's loopback.
/// Each direction moves one bounded chunk at a time and waits for it to be taken (a host receive, then a
/// guest write; a guest read, then a host send), so a slow reader on either side stops the other, and the
/// shim holds at most one chunk per direction. An EOF travels as a half-close, as on a direct connection;
/// the connection ends when both directions have, or at the first failure of either, which resets the
/// host side so that containerd reports an error, as it does when a server refuses under runc.
/// </summary>
internal sealed partial class ForwardedConnection
{
    /// <summary>The chunk each direction moves per round trip.</summary>
    public const int ChunkSize = 32 * 1024;

    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(5);

    private readonly Socket _host;
    private readonly IGuestLoopback _guest;
    private readonly ILogger _logger;

    public ForwardedConnection(Socket host, IGuestLoopback guest, ILogger logger)
    {
        _host = host;
        _guest = guest;
        _logger = logger;
    }

    /// <summary>Runs until the connection ends or <paramref name="cancellationToken"/> fires; never throws; always closes both sides.</summary>
    public async Task RunAsync(Func<IPEndPoint> target, CancellationToken cancellationToken)
    {
        ulong id;
        IPEndPoint destination;
        try
        {
            destination = target();
            id = await _guest.OpenAsync(destination, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (IsConnectionFailure(e))
        {
            LogOpenFailed(_logger, e.Message);
            Reset(_host);
            return;
        }

        var failed = false;
        using var abort = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        try
        {
            await Task.WhenAll(Direction(ToGuestAsync(id, abort.Token)), Direction(ToHostAsync(id, abort.Token))).ConfigureAwait(false);
        }
        finally
        {
            await CloseGuestAsync(id).ConfigureAwait(false);
            if (failed)
            {
                Reset(_host);
            }
            else
            {
                _host.Dispose();
            }
        }

        LogClosed(_logger, destination.ToString(), id, failed);

        async Task Direction(Task pump)
        {
            try
            {
                await pump.ConfigureAwait(false);
            }
            catch (Exception e) when (IsConnectionFailure(e))
            {
                failed = true;
                LogDirectionFailed(_logger, id, e.Message);
                await abort.CancelAsync().ConfigureAwait(false);
            }
        }
    }

    private async Task ToGuestAsync(ulong id, CancellationToken cancellationToken)
    {
        var buffer = new byte[ChunkSize];
        while (true)
        {
            var read = await _host.ReceiveAsync(buffer, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                await _guest.ShutdownWriteAsync(id, cancellationToken).ConfigureAwait(false);
                return;
            }

            await _guest.WriteAsync(id, buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task ToHostAsync(ulong id, CancellationToken cancellationToken)
    {
        while (true)
        {
            var data = await _guest.ReadAsync(id, ChunkSize, cancellationToken).ConfigureAwait(false);
            if (data.IsEmpty)
            {
                _host.Shutdown(SocketShutdown.Send);
                return;
            }

            if (data.Length > ChunkSize)
            {
                // The agent checks too (AgentReplies); this keeps the promise for any IGuestLoopback.
                throw new IOException($"the guest returned {data.Length} bytes for a read of at most {ChunkSize}");
            }

            while (!data.IsEmpty)
            {
                data = data[await _host.SendAsync(data, SocketFlags.None, cancellationToken).ConfigureAwait(false)..];
            }
        }
    }

    private async Task CloseGuestAsync(ulong id)
    {
        // Not the connection's token: the guest's side must be released even when the pod's forwarder is stopping.
        using var timeout = new CancellationTokenSource(CloseTimeout);
        try
        {
            await _guest.CloseAsync(id, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (IsConnectionFailure(e))
        {
            LogCloseFailed(_logger, id, e.Message);
        }
    }

    /// <summary>Closes with an RST (SO_LINGER 0), so the peer reads ECONNRESET rather than a clean EOF.</summary>
    internal static void Reset(Socket socket)
    {
        try
        {
            socket.LingerState = new LingerOption(true, 0);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already dead: disposing is all that is left.
        }

        socket.Dispose();
    }

    /// <summary>What ends one connection without touching the others: its sockets, its agent calls, its cancellation.</summary>
    private static bool IsConnectionFailure(Exception e) =>
        e is SocketException or IOException or RpcException or OperationCanceledException or ObjectDisposedException or FormatException;

    [LoggerMessage(Level = LogLevel.Information, Message = "port-forward: cannot reach the guest's side: {Reason}")]
    private static partial void LogOpenFailed(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "port-forward: connection {Id} stops: {Reason}")]
    private static partial void LogDirectionFailed(ILogger logger, ulong id, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "port-forward: closing guest connection {Id} failed: {Reason}")]
    private static partial void LogCloseFailed(ILogger logger, ulong id, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "port-forward: connection {Id} to {Target} closed (failed: {Failed})")]
    private static partial void LogClosed(ILogger logger, string target, ulong id, bool failed);
}

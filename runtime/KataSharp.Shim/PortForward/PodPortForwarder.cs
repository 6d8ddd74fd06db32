using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using KataSharp.Native;
using KataSharp.Native.Processes;
using KataSharp.Runtime.Network;
using Microsoft.Extensions.Logging;

namespace KataSharp.Shim.PortForward;

/// <summary>
/// Makes the pod's network namespace on the host answer for the guest's loopback, so that containerd's
/// port-forward (which enters that namespace and dials localhost:PORT, as it does under runc) reaches a
/// server in the pod even when it is bound to 127.0.0.1 only. A listener of ours on 127.0.0.1 in that
/// namespace receives every TCP connection to 127.0.0.0/8 through a nat redirect (<see cref="LoopbackRedirect"/>),
/// reads where it was going (<see cref="OriginalDestination"/>), and bridges it to the same address and
/// port in the guest (<see cref="ForwardedConnection"/>). Stopping closes the listener, every connection
/// and the rule.
/// </summary>
internal sealed partial class PodPortForwarder : IAsyncDisposable
{
    /// <summary>Connections bridged at once; more are reset at once, so nothing the pod's side does grows without bound.</summary>
    public const int MaxConnections = 128;

    private const int Backlog = 64;
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(10);

    private readonly Socket _listener;
    private readonly LoopbackRedirect _redirect;
    private readonly IGuestLoopback _guest;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<Task, byte> _connections = new();
    private Task _accepting = Task.CompletedTask;
    private int _disposed;

    private PodPortForwarder(Socket listener, LoopbackRedirect redirect, IGuestLoopback guest, ILogger logger)
    {
        _listener = listener;
        _redirect = redirect;
        _guest = guest;
        _logger = logger;
    }

    /// <summary>The listener's port in the pod's namespace, which the nat rule redirects to.</summary>
    public int ListenerPort => ((IPEndPoint)_listener.LocalEndPoint!).Port;

    public int ActiveConnections => _connections.Count;

    /// <exception cref="ErrnoException">The namespace cannot be entered, or the listener cannot be made in it.</exception>
    /// <exception cref="NetworkException">The nat rule cannot be installed (iptables missing or refusing).</exception>
    public static async Task<PodPortForwarder> StartAsync(string netnsPath, IGuestLoopback guest, INetnsCommandRunner runner, ILogger logger,
        CancellationToken cancellationToken)
    {
        var listener = NetworkNamespaceSockets.ListenOnLoopback(netnsPath, Backlog);
        var redirect = new LoopbackRedirect(runner, netnsPath);
        var forwarder = new PodPortForwarder(listener, redirect, guest, logger);
        try
        {
            await redirect.InstallAsync(forwarder.ListenerPort, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await forwarder.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        forwarder._accepting = forwarder.AcceptAsync();
        LogStarted(logger, netnsPath, forwarder.ListenerPort);
        return forwarder;
    }

    private async Task AcceptAsync()
    {
        while (true)
        {
            Socket accepted;
            try
            {
                accepted = await _listener.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException
                                          || (e is SocketException && _stop.IsCancellationRequested))
            {
                return;
            }
            catch (SocketException e)
            {
                // ECONNABORTED and the like concern one pending connection, not the listener.
                LogAcceptFailed(_logger, e.Message);
                continue;
            }

            if (_connections.Count >= MaxConnections)
            {
                LogTooMany(_logger, MaxConnections);
                ForwardedConnection.Reset(accepted);
                continue;
            }

            accepted.NoDelay = true;
            var connection = new ForwardedConnection(accepted, _guest, _logger).RunAsync(() => OriginalDestination.Of(accepted), _stop.Token);
            _connections[connection] = 0;
            _ = connection.ContinueWith(done => _connections.TryRemove(done, out _), CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        _listener.Dispose();
        await _accepting.ConfigureAwait(false);

        // Each connection closes its guest side with its own bounded timeout; this only bounds the total.
        await Task.WhenAny(Task.WhenAll(_connections.Keys), Task.Delay(StopTimeout)).ConfigureAwait(false);

        using var timeout = new CancellationTokenSource(StopTimeout);
        var failures = await _redirect.RemoveAsync(timeout.Token).ConfigureAwait(false);
        foreach (var failure in failures)
        {
            LogRuleNotRemoved(_logger, failure);
        }

        _stop.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "port-forward: {Netns} redirects TCP to 127.0.0.0/8 to 127.0.0.1:{Port}, bridged into the guest")]
    private static partial void LogStarted(ILogger logger, string netns, int port);

    [LoggerMessage(Level = LogLevel.Warning, Message = "port-forward: accept failed: {Reason}")]
    private static partial void LogAcceptFailed(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "port-forward: {Max} connections are open; resetting a new one")]
    private static partial void LogTooMany(ILogger logger, int max);

    [LoggerMessage(Level = LogLevel.Warning, Message = "port-forward: cleaning up the nat rule: {Failure}")]
    private static partial void LogRuleNotRemoved(ILogger logger, string failure);
}

using KataSharp.Protocol.Transport;
using System.Net.Sockets;
using KataSharp.Native;
using KataSharp.Protocol.Ttrpc;
using Microsoft.Extensions.Logging;

namespace KataSharp.Agent.Channels;

/// <summary>
/// Serves the agent on vsock port 1024 when the guest kernel has vsock. The listener is raw
/// P/Invoke (.NET cannot bind AF_VSOCK); each accepted fd is wrapped in a Socket for IO.
/// Only the host's privileged ports are served (<see cref="VsockPeerPolicy"/>): any host user can
/// reach this port, and the agent runs anything it is asked to.
/// </summary>
internal sealed partial class VsockChannel
{
    private readonly TtrpcServer _server;
    private readonly ILogger _logger;

    public VsockChannel(TtrpcServer server, ILogger<VsockChannel> logger)
    {
        _server = server;
        _logger = logger;
    }

    /// <summary>Runs until cancelled; returns at once when vsock is not available.</summary>
    public Task RunAsync(CancellationToken cancellationToken)
    {
        var listener = VsockSocket.TryListen(VsockAddress.Encode(VsockAddress.AgentPort), 16, out var errno);
        if (listener is null)
        {
            LogUnavailable(_logger, new ErrnoException("vsock listen", errno).Message);
            return Task.CompletedTask;
        }

        FdOps.SetNonBlocking(listener.Value);
        LogListening(_logger, VsockAddress.AgentPort);
        return Task.Factory.StartNew(() => AcceptLoop(listener, cancellationToken), CancellationToken.None,
            TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    private void AcceptLoop(OwnedFd listener, CancellationToken cancellationToken)
    {
        var peer = new byte[VsockAddress.Size];
        using (listener)
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                try
                {
                    // A poll timeout lets the loop notice cancellation.
                    if (FdOps.PollOne(listener.Value, Linux.POLLIN, 500) == 0)
                    {
                        continue;
                    }

                    var fd = VsockSocket.Accept(listener.Value, peer);
                    if (fd < 0)
                    {
                        continue;
                    }

                    if (!VsockPeerPolicy.IsTrusted(peer, out var peerCid, out var peerPort))
                    {
                        Libc.Close(fd);
                        LogRefused(_logger, peerCid, peerPort);
                        continue;
                    }

                    var socket = new Socket(new SafeSocketHandle(fd, ownsHandle: true));
                    LogAccepted(_logger);
                    _ = _server.ServeAsync(new NetworkStream(socket, ownsSocket: true), "vsock", cancellationToken);
                }
                catch (Exception e) when (e is ErrnoException or SocketException or IOException)
                {
                    LogAcceptFailed(_logger, e.Message);
                    Thread.Sleep(100);
                }
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "vsock connection from cid {Cid} port {Port} refused: only the host's privileged ports may call the agent")]
    private static partial void LogRefused(ILogger logger, uint cid, uint port);

    [LoggerMessage(Level = LogLevel.Information, Message = "vsock not available: {Reason}")]
    private static partial void LogUnavailable(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "listening on vsock port {Port}")]
    private static partial void LogListening(ILogger logger, uint port);

    [LoggerMessage(Level = LogLevel.Information, Message = "vsock connection accepted")]
    private static partial void LogAccepted(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "vsock accept failed: {Reason}")]
    private static partial void LogAcceptFailed(ILogger logger, string reason);
}

using KataSharp.Native;
using KataSharp.Protocol.Ttrpc;
using Microsoft.Extensions.Logging;

namespace KataSharp.Agent.Channels;

/// <summary>
/// Serves the agent on every virtio-serial port named katasharp.agent. A port carries one host
/// connection at a time; when the host disconnects (a shim restart) the port is closed and
/// opened again, which drops anything stale, and the agent waits for the next connection.
/// </summary>
internal sealed partial class SerialChannel
{
    public const string PortName = "katasharp.agent";

    private static readonly TimeSpan RescanInterval = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan HostAbsentBackoff = TimeSpan.FromMilliseconds(20);

    private readonly TtrpcServer _server;
    private readonly ILogger _logger;
    private readonly string _sysVirtioPorts;
    private readonly string _devDir;

    public SerialChannel(TtrpcServer server, ILogger<SerialChannel> logger, string sysVirtioPorts = "/sys/class/virtio-ports", string devDir = "/dev")
    {
        _server = server;
        _logger = logger;
        _sysVirtioPorts = sysVirtioPorts;
        _devDir = devDir;
    }

    /// <summary>Serves every matching port, including ones that appear later, until cancelled.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var served = new Dictionary<string, Task>(StringComparer.Ordinal);
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                foreach (var port in FindPorts(_sysVirtioPorts, PortName))
                {
                    if (!served.ContainsKey(port))
                    {
                        LogPortFound(_logger, port);
                        served[port] = Task.Run(() => ServePortAsync(Path.Combine(_devDir, port), cancellationToken), CancellationToken.None);
                    }
                }

                await Task.Delay(RescanInterval, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }

        await Task.WhenAll(served.Values).ConfigureAwait(false);
    }

    /// <summary>The device names (vportNpM) of the ports whose name file says <paramref name="name"/>.</summary>
    internal static IEnumerable<string> FindPorts(string sysVirtioPorts, string name)
    {
        if (!Directory.Exists(sysVirtioPorts))
        {
            yield break;
        }

        foreach (var dir in Directory.EnumerateDirectories(sysVirtioPorts).Order(StringComparer.Ordinal))
        {
            string portName;
            try
            {
                portName = File.ReadAllText(Path.Combine(dir, "name")).Trim();
            }
            catch (IOException)
            {
                continue;
            }

            if (portName == name)
            {
                yield return Path.GetFileName(dir);
            }
        }
    }

    private async Task ServePortAsync(string device, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            OwnedFd port;
            try
            {
                port = FdOps.Open(device, Linux.O_RDWR | Linux.O_NOCTTY);
            }
            catch (ErrnoException e)
            {
                LogOpenFailed(_logger, device, e.Message);
                await DelayAsync(TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
                continue;
            }

            try
            {
                // Until the host opens its end, the port polls POLLHUP and reads EOF.
                while (!cancellationToken.IsCancellationRequested && (FdOps.PollOne(port.Value, Linux.POLLIN, 0) & Linux.POLLHUP) != 0)
                {
                    await DelayAsync(HostAbsentBackoff, cancellationToken).ConfigureAwait(false);
                }

                if (cancellationToken.IsCancellationRequested)
                {
                    port.Dispose();
                    break;
                }

                LogHostConnected(_logger, device);
                // The server disposes the stream (and with it the fd) when the connection ends.
                await _server.ServeAsync(new SerialPortStream(port, Path.GetFileName(device)), "serial", cancellationToken).ConfigureAwait(false);
                LogHostDisconnected(_logger, device);
            }
            catch (Exception e) when (e is ErrnoException or IOException)
            {
                LogServeFailed(_logger, device, e.Message);
                port.Dispose();
                await DelayAsync(HostAbsentBackoff, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private static async Task DelayAsync(TimeSpan delay, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "virtio-serial port {Port} is " + PortName)]
    private static partial void LogPortFound(ILogger logger, string port);

    [LoggerMessage(Level = LogLevel.Information, Message = "host connected on {Device}")]
    private static partial void LogHostConnected(ILogger logger, string device);

    [LoggerMessage(Level = LogLevel.Information, Message = "host disconnected from {Device}; waiting for it to reconnect")]
    private static partial void LogHostDisconnected(ILogger logger, string device);

    [LoggerMessage(Level = LogLevel.Warning, Message = "cannot open {Device}: {Reason}")]
    private static partial void LogOpenFailed(ILogger logger, string device, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "serving {Device} failed: {Reason}")]
    private static partial void LogServeFailed(ILogger logger, string device, string reason);
}

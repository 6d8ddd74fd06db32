using System.Net.Sockets;
using KataSharp.Native.Files;
using KataSharp.Runtime.Metrics;
using Microsoft.Extensions.Logging;

namespace KataSharp.Shim.Telemetry;

/// <summary>
/// The shim's Prometheus endpoint: GET /metrics over HTTP on monitor.sock in the sandbox directory (owner
/// only, as the directory), for as long as the pod's VM lives. <c>katasharp monitor</c> finds it there.
/// </summary>
internal sealed partial class ShimMetricsEndpoint : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly string _path;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _serving;

    private ShimMetricsEndpoint(Socket listener, string path, PodMetricsCollector collector, ILogger logger)
    {
        _listener = listener;
        _path = path;
        _serving = MetricsHttp.ServeAsync(listener, collector.CollectAsync, reason => LogScrapeFailed(logger, reason), _stop.Token);
    }

    /// <summary>Null, with a warning, when the socket cannot be bound: a pod runs without its metrics rather than not at all.</summary>
    public static ShimMetricsEndpoint? TryStart(PodMetricsSource source, PodMetricsCollector collector, ILogger logger)
    {
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            File.Delete(source.SocketPath);
            PrivateSocket.Bind(listener, source.SocketPath);
            listener.Listen(8);
            return new ShimMetricsEndpoint(listener, source.SocketPath, collector, logger);
        }
        catch (Exception e) when (e is SocketException or IOException or UnauthorizedAccessException)
        {
            listener.Dispose();
            LogListenFailed(logger, source.SocketPath, e.Message);
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener.Dispose();
        await _serving.ConfigureAwait(false);
        _stop.Dispose();
        try
        {
            File.Delete(_path);
        }
        catch (IOException)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "cannot serve metrics on {Socket}: {Reason}")]
    private static partial void LogListenFailed(ILogger logger, string socket, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "a metrics scrape failed: {Reason}")]
    private static partial void LogScrapeFailed(ILogger logger, string reason);
}

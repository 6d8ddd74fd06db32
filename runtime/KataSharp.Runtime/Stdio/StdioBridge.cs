using KataSharp.Protocol.Agent.V1;
using Microsoft.Extensions.Logging;

namespace KataSharp.Runtime.Stdio;

/// <summary>
/// Joins one container process's stdio to host streams: the shim's containerd FIFOs and the CLI's own
/// stdout, stderr and stdin both go through it. Each output stream is an <see cref="OutputLane"/> with its
/// own bound, so a destination nobody reads stalls only its own stream: never the other stream, the
/// other processes of the pod, or the agent connection they share.
/// The bridge owns the destination streams and disposes each one when its stream has ended (for a
/// FIFO, that close is the EOF containerd's reader waits for).
/// </summary>
public sealed partial class StdioBridge : IAsyncDisposable
{
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(2);

    private readonly IProcessStdio _process;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly CancellationTokenSource _stopStdin = new();
    private readonly List<OutputLane> _lanes = [];
    private Task _outputDone = Task.CompletedTask;
    private Task? _stdinDone;
    private long _firstOutputTicks;

    public StdioBridge(IProcessStdio process, ILogger logger)
    {
        _process = process;
        _logger = logger;
    }

    /// <summary>Completes when every output stream has reached EOF, been written out and its destination closed.</summary>
    public Task OutputDone => _outputDone;

    /// <summary>When the first output byte reached a destination (Environment.TickCount64), or 0.</summary>
    public long FirstOutputTicks => Interlocked.Read(ref _firstOutputTicks);

    /// <summary>
    /// Starts the copies. A null output destination still drains its stream (into nothing); stderr is not
    /// read at all for a terminal, which has none. <paramref name="openStdin"/> may block (a FIFO's open
    /// waits for its writer), so it runs in the background; null means no stdin.
    /// </summary>
    public void Start(Stream? stdout, Stream? stderr, bool terminal, Func<Stream>? openStdin)
    {
        var lanes = new List<Task> { Lane(OutputStream.Stdout, stdout) };
        if (terminal)
        {
            stderr?.Dispose();
        }
        else
        {
            lanes.Add(Lane(OutputStream.Stderr, stderr));
        }

        _outputDone = Task.WhenAll(lanes);
        if (openStdin is not null)
        {
            _stdinDone = Task.Run(() => ForwardStdinAsync(openStdin));
        }
    }

    /// <summary>
    /// The client closed its stdin (containerd's CloseIO): let the copy deliver what was already written,
    /// for at most <paramref name="drainGrace"/>, then close stdin in the guest. Output keeps flowing.
    /// </summary>
    public async Task CloseStdinAsync(TimeSpan drainGrace, CancellationToken cancellationToken)
    {
        if (_stdinDone is { } forwarding && await Task.WhenAny(forwarding, Task.Delay(drainGrace, cancellationToken)).ConfigureAwait(false) == forwarding)
        {
            return;
        }

        await _stopStdin.CancelAsync().ConfigureAwait(false);
        await _process.CloseStdinAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Waits, at most <paramref name="timeout"/>, for the output to be delivered; false if it was not.</summary>
    public async Task<bool> DrainAsync(TimeSpan timeout)
    {
        var done = _outputDone;
        return await Task.WhenAny(done, Task.Delay(timeout)).ConfigureAwait(false) == done;
    }

    private Task Lane(OutputStream stream, Stream? destination)
    {
        if (destination is null)
        {
            return Observe(stream, _process.PumpOutputAsync(stream, Stream.Null, _stop.Token));
        }

        var lane = OutputLane.Start(destination, OnData, $"{_process.ContainerId}/{_process.ExecId} {stream}",
            sink => _process.PumpOutputAsync(stream, sink, _stop.Token));
        _lanes.Add(lane);
        return Observe(stream, lane.Written);
    }

    private void OnData() => Interlocked.CompareExchange(ref _firstOutputTicks, Environment.TickCount64, 0);

    /// <summary>A stream that ends with a failure (the VM went away, teardown) has still ended: log it, don't throw.</summary>
    private async Task Observe(OutputStream stream, Task copy)
    {
        try
        {
            await copy.ConfigureAwait(false);
        }
        catch (Exception e)
        {
            LogCopyEnded(_logger, _process.ContainerId, _process.ExecId, stream.ToString(), e.Message);
        }
    }

    private async Task ForwardStdinAsync(Func<Stream> openStdin)
    {
        try
        {
            await using var source = openStdin();
            await _process.ForwardStdinAsync(source, _stopStdin.Token).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            LogCopyEnded(_logger, _process.ContainerId, _process.ExecId, "stdin", e.Message);
        }
    }

    /// <summary>Stops every copy; output not yet delivered after a short wait is dropped with its destination.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _stopStdin.CancelAsync().ConfigureAwait(false);
        foreach (var lane in _lanes)
        {
            lane.Stop();
        }

        await Task.WhenAny(_outputDone, Task.Delay(StopTimeout)).ConfigureAwait(false);
        _stop.Dispose();
        _stopStdin.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "{ContainerId}/{ExecId}: {Stream} copy ended: {Reason}")]
    private static partial void LogCopyEnded(ILogger logger, string containerId, string execId, string stream, string reason);
}

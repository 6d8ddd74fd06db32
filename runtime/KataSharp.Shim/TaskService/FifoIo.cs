using KataSharp.Protocol.Agent.V1;
using KataSharp.Protocol.Errors;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace KataSharp.Shim.TaskService;

/// <summary>
/// Joins the FIFOs containerd made for a process to the process's stdio in the guest.
/// The output FIFOs are opened read-write: that never blocks, and the one descriptor is both our
/// writer and the keep-alive that spares us EPIPE when the reader goes. stdin is opened read-only
/// in the background, because that open blocks until containerd's writer is there. Output EOF is
/// delivered by closing the FIFO once the guest stream ends: CRI's exec waits for exactly that.
/// </summary>
internal sealed partial class FifoIo : IAsyncDisposable
{
    private static readonly TimeSpan StdinDrainGrace = TimeSpan.FromSeconds(1);

    private readonly StdioPaths _paths;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private FileStream? _stdout;
    private FileStream? _stderr;
    private Task _outputDone = Task.CompletedTask;
    private Task? _stdinDone;

    public FifoIo(StdioPaths paths, ILogger logger)
    {
        _paths = paths;
        _logger = logger;
    }

    /// <summary>Completes when every output stream has reached EOF and its FIFO is closed.</summary>
    public Task OutputDone => _outputDone;

    /// <summary>Opens the output FIFOs; fails at once on a bad path, before anything is created in the guest.</summary>
    /// <exception cref="ArgumentException">A stdio URI that is not a FIFO path.</exception>
    public void OpenOutputs()
    {
        _stdout = OpenOutput(_paths.Stdout);
        _stderr = _paths.Terminal ? null : OpenOutput(_paths.Stderr);
    }

    /// <summary>Starts copying the guest process's output to the FIFOs and the FIFO's input to its stdin.</summary>
    public void Start(IGuestProcess process)
    {
        var pumps = new List<Task> { PumpAsync(process, OutputStream.Stdout, _stdout) };
        if (!_paths.Terminal)
        {
            pumps.Add(PumpAsync(process, OutputStream.Stderr, _stderr));
        }

        _outputDone = Task.WhenAll(pumps);
        if (_paths.Stdin.Length > 0)
        {
            _stdinDone = Task.Run(() => ForwardStdinAsync(process));
        }
    }

    /// <summary>CloseIO: let stdin drain what containerd already wrote, then close it in the guest.</summary>
    public async Task CloseStdinAsync(IGuestProcess process, CancellationToken cancellationToken)
    {
        if (_stdinDone is { } forwarding && await Task.WhenAny(forwarding, Task.Delay(StdinDrainGrace, cancellationToken)).ConfigureAwait(false) == forwarding)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        await process.CloseStdinAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task PumpAsync(IGuestProcess process, OutputStream stream, FileStream? fifo)
    {
        try
        {
            await process.PumpOutputAsync(stream, fifo ?? Stream.Null, _stop.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is KataSharpException or IOException or OperationCanceledException)
        {
            LogPumpEnded(_logger, process.ContainerId, process.ExecId, stream.ToString(), e.Message);
        }
        finally
        {
            if (fifo is not null)
            {
                await fifo.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private async Task ForwardStdinAsync(IGuestProcess process)
    {
        try
        {
            // Blocks until containerd's end is open, which it already is for a well-behaved client.
            using var handle = await Task.Run(() => File.OpenHandle(_paths.Stdin, FileMode.Open, FileAccess.Read), _stop.Token).ConfigureAwait(false);
            await using var stdin = new FileStream(handle, FileAccess.Read, 0, isAsync: false);
            await process.ForwardStdinAsync(stdin, _stop.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is KataSharpException or IOException or OperationCanceledException or UnauthorizedAccessException)
        {
            LogPumpEnded(_logger, process.ContainerId, process.ExecId, "stdin", e.Message);
        }
    }

    private static FileStream? OpenOutput(string path)
    {
        if (path.Length == 0)
        {
            return null;
        }

        SafeFileHandle handle = File.OpenHandle(FifoPath(path), FileMode.Open, FileAccess.ReadWrite);
        return new FileStream(handle, FileAccess.Write, 0, isAsync: false);
    }

    /// <summary>containerd passes FIFO paths bare or as fifo:// URIs; binary:// and file:// loggers are not supported.</summary>
    internal static string FifoPath(string uri)
    {
        if (uri.StartsWith("fifo://", StringComparison.Ordinal))
        {
            return uri["fifo://".Length..];
        }

        if (uri.Contains("://", StringComparison.Ordinal))
        {
            throw new ArgumentException($"unsupported stdio URI '{uri}': only FIFOs are supported");
        }

        return uri;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await Task.WhenAny(_outputDone, Task.Delay(TimeSpan.FromSeconds(2))).ConfigureAwait(false);
        if (_stdout is not null)
        {
            await _stdout.DisposeAsync().ConfigureAwait(false);
        }

        if (_stderr is not null)
        {
            await _stderr.DisposeAsync().ConfigureAwait(false);
        }

        _stop.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "{ContainerId}/{ExecId}: {Stream} copy ended: {Reason}")]
    private static partial void LogPumpEnded(ILogger logger, string containerId, string execId, string stream, string reason);
}

/// <summary>The stdio a task or exec was created with, as containerd named them.</summary>
internal sealed record StdioPaths(string Stdin, string Stdout, string Stderr, bool Terminal)
{
    public bool IsNull => Stdin.Length == 0 && Stdout.Length == 0 && Stderr.Length == 0;
}

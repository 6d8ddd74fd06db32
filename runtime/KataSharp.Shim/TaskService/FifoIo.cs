using KataSharp.Runtime.Stdio;
using Microsoft.Extensions.Logging;

namespace KataSharp.Shim.TaskService;

/// <summary>
/// Joins the FIFOs containerd made for a process to the process's stdio in the guest, through the
/// runtime's <see cref="StdioBridge"/>. The output FIFOs are opened at once (<see cref="FifoWriter"/>: that
/// never blocks); stdin is opened read-only in the background, because that open blocks until
/// containerd's writer is there. Output EOF is delivered by closing the FIFO once the guest stream ends:
/// CRI's exec waits for exactly that.
/// </summary>
internal sealed class FifoIo : IAsyncDisposable
{
    private static readonly TimeSpan StdinDrainGrace = TimeSpan.FromSeconds(1);

    private readonly StdioPaths _paths;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private FifoWriter? _stdout;
    private FifoWriter? _stderr;
    private StdioBridge? _bridge;
    private int _disposed;

    public FifoIo(StdioPaths paths, ILogger logger)
    {
        _paths = paths;
        _logger = logger;
    }

    /// <summary>Completes when every output stream has reached EOF and its FIFO is closed.</summary>
    public Task OutputDone => _bridge?.OutputDone ?? Task.CompletedTask;

    /// <summary>Opens the output FIFOs; fails at once on a bad path, before anything is created in the guest.</summary>
    /// <exception cref="ArgumentException">A stdio URI that is not a FIFO path.</exception>
    /// <exception cref="IOException">A FIFO that cannot be opened.</exception>
    public void OpenOutputs()
    {
        _stdout = OpenOutput(_paths.Stdout);
        _stderr = _paths.Terminal ? null : OpenOutput(_paths.Stderr);
    }

    /// <summary>Starts copying the guest process's output to the FIFOs and the FIFO's input to its stdin.</summary>
    public void Start(IGuestProcess process)
    {
        _bridge = new StdioBridge(process, _logger);
        _bridge.Start(_stdout, _stderr, _paths.Terminal, _paths.Stdin.Length > 0 ? OpenStdin : null);
        _stdout = null;
        _stderr = null;
    }

    /// <summary>CloseIO: let stdin drain what containerd already wrote, then close it in the guest.</summary>
    public Task CloseStdinAsync(IGuestProcess process, CancellationToken cancellationToken) =>
        _bridge is { } bridge ? bridge.CloseStdinAsync(StdinDrainGrace, cancellationToken) : process.CloseStdinAsync(cancellationToken);

    // Blocks until containerd's end is open, which it already is for a well-behaved client.
    private Stream OpenStdin() => new FileStream(File.OpenHandle(_paths.Stdin, FileMode.Open, FileAccess.Read), FileAccess.Read, 0, isAsync: false);

    private FifoWriter? OpenOutput(string path) => path.Length == 0 ? null : FifoWriter.Open(FifoPath(path), _stop.Token);

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
        // Once: a failed Create and the teardown of its pod may both reach here.
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        // Releases a write blocked on a FIFO nobody reads; the bridge then closes it.
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_bridge is not null)
        {
            await _bridge.DisposeAsync().ConfigureAwait(false);
        }

        _stdout?.Dispose();
        _stderr?.Dispose();
        _stop.Dispose();
    }
}

/// <summary>The stdio a task or exec was created with, as containerd named them.</summary>
internal sealed record StdioPaths(string Stdin, string Stdout, string Stderr, bool Terminal)
{
    public bool IsNull => Stdin.Length == 0 && Stdout.Length == 0 && Stderr.Length == 0;
}

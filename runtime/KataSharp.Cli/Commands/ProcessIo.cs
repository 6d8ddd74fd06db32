using System.Runtime.InteropServices;
using KataSharp.Cli.Console;
using KataSharp.Cli.Interop;
using KataSharp.Runtime.Sandbox;
using KataSharp.Runtime.Stdio;
using Microsoft.Extensions.Logging.Abstractions;

namespace KataSharp.Cli.Commands;

/// <summary>
/// Connects a container process to this terminal through the runtime's <see cref="StdioBridge"/>: output live
/// to stdout/stderr (and to a
/// log for kept sandboxes), stdin forwarded with -i, raw mode and window size with -t.
/// Shared by run and exec.
/// </summary>
internal sealed class ProcessIo : IAsyncDisposable
{
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(10);

    private readonly ContainerProcess _process;
    private readonly StdioBridge _bridge;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<IDisposable> _resources = [];

    public ProcessIo(ContainerProcess process)
    {
        _process = process;
        _bridge = new StdioBridge(process, NullLogger.Instance);
    }

    /// <summary>When the first output byte arrived (Environment.TickCount64), or 0.</summary>
    public long FirstOutputTicks => _bridge.FirstOutputTicks;

    /// <summary>Starts pumping. <paramref name="outputLog"/> also receives the output (for <c>katasharp logs</c>).</summary>
    public void Start(bool stdin, string? outputLog)
    {
        Stream stdout = System.Console.OpenStandardOutput();
        Stream stderr = System.Console.OpenStandardError();
        if (outputLog is not null)
        {
            var log = new FileStream(outputLog, FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
            _resources.Add(log);
            stdout = new TeeStream(stdout, log);
            stderr = new TeeStream(stderr, log);
        }

        if (_process.Terminal && stdin && Termios.IsTerminal(0) && Termios.MakeRaw(0) is { } raw)
        {
            // Raw only when keystrokes go to the container: Ctrl-C then reaches its shell, not us.
            _resources.Insert(0, raw);
        }

        if (_process.Terminal && (Termios.IsTerminal(0) || Termios.IsTerminal(1)))
        {
            _ = ResizeAsync();
            if (!OperatingSystem.IsWindows())
            {
                _resources.Add(PosixSignalRegistration.Create(PosixSignal.SIGWINCH, context => { _ = ResizeAsync(); }));
            }
        }

        // Reading stdin cannot be cancelled; that copy is abandoned, not awaited, when the process exits.
        _bridge.Start(stdout, stderr, _process.Terminal, stdin ? System.Console.OpenStandardInput : null);
    }

    private async Task ResizeAsync()
    {
        if ((Termios.GetSize(0) ?? Termios.GetSize(1)) is { } size)
        {
            try
            {
                await _process.ResizeAsync(size.Rows, size.Columns, _stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SandboxException or OperationCanceledException)
            {
                // A resize that races with the exit does not matter.
            }
        }
    }

    /// <summary>
    /// Waits (bounded) for the output streams to reach EOF and be written out after the process has exited;
    /// something in the guest may still hold the output open, and the job has ended regardless.
    /// </summary>
    public Task DrainAsync() => _bridge.DrainAsync(DrainTimeout);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _bridge.DisposeAsync().ConfigureAwait(false);
        foreach (var resource in _resources)
        {
            resource.Dispose();
        }

        _stop.Dispose();
    }
}

using System.Runtime.InteropServices;
using KataSharp.Cli.Console;
using KataSharp.Cli.Interop;
using KataSharp.Protocol.Agent.V1;
using KataSharp.Runtime.Sandbox;

namespace KataSharp.Cli.Commands;

/// <summary>
/// Connects a container process to this terminal: output pumped live to stdout/stderr (and to a
/// log for kept sandboxes), stdin forwarded with -i, raw mode and window size with -t.
/// Shared by run and exec.
/// </summary>
internal sealed class ProcessIo : IAsyncDisposable
{
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(10);

    private readonly ContainerProcess _process;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _pumps = [];
    private readonly List<IDisposable> _resources = [];
    private Task? _stdin;
    private long _firstOutputTicks;

    public ProcessIo(ContainerProcess process) => _process = process;

    /// <summary>When the first output byte arrived (Environment.TickCount64), or 0.</summary>
    public long FirstOutputTicks => Interlocked.Read(ref _firstOutputTicks);

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

        void OnData() => Interlocked.CompareExchange(ref _firstOutputTicks, Environment.TickCount64, 0);
        _pumps.Add(_process.PumpOutputAsync(OutputStream.Stdout, stdout, OnData, _stop.Token));
        if (!_process.Terminal)
        {
            _pumps.Add(_process.PumpOutputAsync(OutputStream.Stderr, stderr, OnData, _stop.Token));
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

        if (stdin)
        {
            // Reading stdin cannot be cancelled; this task is abandoned, not awaited, when the process exits.
            _stdin = Task.Run(() => _process.ForwardStdinAsync(System.Console.OpenStandardInput(), _stop.Token));
        }
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

    /// <summary>Waits (bounded) for the output streams to reach EOF after the process has exited.</summary>
    public async Task DrainAsync()
    {
        var all = Task.WhenAll(_pumps);
        try
        {
            await all.WaitAsync(DrainTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Something in the guest still holds the output open; the job has ended regardless.
        }
        catch (Exception e) when (e is SandboxException or OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await Task.WhenAll(_pumps).WaitAsync(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Pumps end with cancellation or a dropped connection; nothing to report at teardown.
        }

        _ = _stdin;
        foreach (var resource in _resources)
        {
            resource.Dispose();
        }

        _stop.Dispose();
    }
}

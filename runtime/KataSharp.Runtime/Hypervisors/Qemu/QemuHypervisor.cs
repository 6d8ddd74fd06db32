using System.Diagnostics;
using KataSharp.Native;
using Microsoft.Extensions.Logging;

namespace KataSharp.Runtime.Hypervisors.Qemu;

/// <summary>
/// Runs one sandbox VM in QEMU and drives it over QMP. QEMU is started detached (its own session,
/// stdio to a log) so that it can outlive this process when a sandbox is kept; another process
/// attaches to it with <see cref="Attach"/> from the pid recorded in state.json.
/// </summary>
public sealed partial class QemuHypervisor : IHypervisor
{
    private static readonly TimeSpan QmpCommandTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan KillWait = TimeSpan.FromSeconds(5);

    /// <summary>Deflating even gigabytes takes the guest well under a second; longer means it does not answer.</summary>
    private static readonly TimeSpan BalloonTimeout = TimeSpan.FromSeconds(20);

    /// <summary>Null for a QEMU this process attached to: it can be watched and stopped, not started.</summary>
    private readonly VmSpec? _spec;
    private readonly QemuOptions _options;
    private readonly VmmFiles _files;
    private readonly string _consoleLogPath;
    private readonly string _qemuPath;
    private readonly TimeSpan _startTimeout;
    private readonly ILogger _logger;
    private readonly TaskCompletionSource<HypervisorExit> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _disposing = new();
    private ProcessIdentity? _process;
    private QmpClient? _qmp;
    private volatile bool _stopRequested;
    private volatile string? _shutdownReason;
    private int _disposed;

    /// <param name="startTimeout">How long QEMU may take to answer on QMP after it is started.</param>
    public QemuHypervisor(VmSpec spec, QemuOptions options, string qemuPath, ILogger logger, TimeSpan startTimeout)
    {
        _spec = spec;
        _options = options;
        _files = spec.Files;
        _consoleLogPath = spec.ConsoleLogPath;
        _qemuPath = qemuPath;
        _logger = logger;
        _startTimeout = startTimeout;
    }

    private QemuHypervisor(RunningVm vm, ILogger logger)
    {
        _options = new QemuOptions();
        _files = vm.Files;
        _consoleLogPath = vm.ConsoleLogPath;
        _qemuPath = "";
        _logger = logger;
        _process = vm.Process;
        _ = WatchExitAsync(vm.Process, child: false);
    }

    /// <summary>Takes over a QEMU started by another process (a kept sandbox), to watch or stop it.</summary>
    public static QemuHypervisor Attach(RunningVm vm, ILogger logger) => new(vm, logger);

    public ProcessIdentity? Process => _process;

    public string ConsoleLogPath => _consoleLogPath;

    public Task<HypervisorExit> Exited => _exited.Task;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (_spec is not { } spec || _process is not null)
        {
            throw new InvalidOperationException("this QEMU has already been started");
        }

        foreach (var (what, path) in new[] { ("QEMU", _qemuPath), ("guest kernel", spec.KernelPath), (spec.Root.Kind == GuestRootKind.Image ? "guest root image" : "guest initrd", spec.Root.Path) }
                     .Concat(VmmJail.Tools.Select(tool => ("the VMM jail's tool (util-linux)", tool))))
        {
            if (!File.Exists(path))
            {
                throw new HypervisorException($"{what} not found: {path}");
            }
        }

        foreach (var stale in new[] { _files.ControlSocketPath, spec.AgentChannel.SocketPath, _files.PidFilePath })
        {
            if (stale.Length > 0)
            {
                File.Delete(stale);
            }
        }

        var args = QemuCommandLine.Build(spec, _options);
        var (jailPath, jailedArgs) = QemuJail.For(spec, _qemuPath).Wrap(_qemuPath, args);
        LogStarting(_logger, _qemuPath, string.Join(' ', args.Select(Quote)));
        var clock = Stopwatch.StartNew();
        try
        {
            // The jail execs QEMU in the process it starts, so this pid (and its start time) is QEMU's.
            var pid = DetachedProcess.Spawn(jailPath, jailedArgs, _files.LogPath, spec.NetworkNamespacePath);
            _process = ProcessIdentity.Of(pid) ?? new ProcessIdentity(pid, -1);
            _ = WatchExitAsync(_process.Value, child: true);
            await ConnectQmpAsync(cancellationToken).ConfigureAwait(false);
            if (spec.BootMemoryMiB > spec.MemoryMiB)
            {
                await QemuBalloon.SetTargetAsync(_qmp!, spec.MemoryMiB, QmpCommandTimeout, cancellationToken).ConfigureAwait(false);
            }

            LogStarted(_logger, pid, clock.ElapsedMilliseconds, _qmp!.Version);
        }
        catch (Exception e)
        {
            await KillAsync().ConfigureAwait(false);
            var log = LogTail.Read(_files.LogPath);
            if (e is HypervisorException or QmpException && log.Length > 0)
            {
                throw new HypervisorException($"{e.Message}\nQEMU said:\n{log}", e);
            }

            throw;
        }
    }

    private async Task ConnectQmpAsync(CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(_startTimeout);
        QmpException? last = null;
        while (true)
        {
            if (_exited.Task.IsCompleted)
            {
                throw new HypervisorException($"QEMU exited during start-up ({await _exited.Task.ConfigureAwait(false)})");
            }

            if (File.Exists(_files.ControlSocketPath))
            {
                try
                {
                    var qmp = await QmpClient.ConnectAsync(_files.ControlSocketPath, QmpCommandTimeout, deadline.Token).ConfigureAwait(false);
                    qmp.EventReceived += OnQmpEvent;
                    _qmp = qmp;
                    return;
                }
                catch (QmpException e)
                {
                    last = e; // The socket exists before QEMU listens on it; try again.
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    break;
                }
            }

            try
            {
                await Task.Delay(20, deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                break;
            }
        }

        throw new HypervisorException($"QEMU did not answer on QMP within {_startTimeout.TotalSeconds:0.#} s" + (last is null ? "" : $": {last.Message}"));
    }

    private void OnQmpEvent(QmpEvent e)
    {
        LogEvent(_logger, e.Name, e.Data?.ToJsonString() ?? "");
        if (e.Name == "SHUTDOWN")
        {
            _shutdownReason = e.Data?["reason"]?.GetValue<string>();
        }
    }

    private async Task WatchExitAsync(ProcessIdentity process, bool child)
    {
        try
        {
            var status = child
                ? await ProcessExitWatcher.WaitForChildAsync(process.Pid, _disposing.Token).ConfigureAwait(false)
                : await ProcessExitWatcher.WaitForProcessAsync(process.Pid, process.StartTime, _disposing.Token).ConfigureAwait(false);
            var exit = new HypervisorExit(_stopRequested, status.ExitCode, status.Signal, _shutdownReason);
            if (!_stopRequested)
            {
                LogUnexpectedExit(_logger, process.Pid, exit.ToString(), LogTail.Read(_consoleLogPath, 10));
            }

            _exited.TrySetResult(exit);
        }
        catch (OperationCanceledException)
        {
            _exited.TrySetCanceled();
        }
        catch (Exception e)
        {
            _exited.TrySetException(e);
        }
    }

    public Task SetMemoryAsync(int memoryMiB, CancellationToken cancellationToken)
    {
        if (_qmp is not { } qmp || _spec is not { } spec)
        {
            throw new HypervisorException("this process attached to a running QEMU and holds no QMP connection to resize it");
        }

        return memoryMiB > spec.BootMemoryMiB
            ? throw new HypervisorException($"the VM booted with {spec.BootMemoryMiB} MiB and cannot grow to {memoryMiB} MiB")
            : QemuBalloon.GrowAsync(qmp, memoryMiB, QmpCommandTimeout, BalloonTimeout, cancellationToken);
    }

    public async Task StopAsync(TimeSpan gracePeriod, CancellationToken cancellationToken)
    {
        if (_process is not { } process || _exited.Task.IsCompleted)
        {
            return;
        }

        _stopRequested = true;
        if (gracePeriod > TimeSpan.Zero && await ExitedWithin(gracePeriod, cancellationToken).ConfigureAwait(false))
        {
            return;
        }

        // Ask QEMU to quit: over our QMP connection if we hold one, else by SIGTERM, which QEMU
        // handles as a clean quit (another process may be holding the single QMP connection).
        var asked = false;
        if (_qmp is { } qmp)
        {
            try
            {
                await qmp.QuitAsync(QmpCommandTimeout, cancellationToken).ConfigureAwait(false);
                asked = true;
            }
            catch (QmpException e)
            {
                LogQuitFailed(_logger, e.Message);
            }
        }

        if (!asked)
        {
            process.Signal(Linux.SIGTERM);
        }

        if (await ExitedWithin(KillWait, cancellationToken).ConfigureAwait(false))
        {
            return;
        }

        LogKilling(_logger, process.Pid);
        await KillAsync().ConfigureAwait(false);
    }

    /// <summary>SIGKILL and wait (bounded) for the exit to be seen. Used on failure paths too.</summary>
    private async Task KillAsync()
    {
        if (_process is not { } process || _exited.Task.IsCompleted)
        {
            return;
        }

        _stopRequested = true;
        process.Signal(Linux.SIGKILL);
        if (!await ExitedWithin(KillWait, CancellationToken.None).ConfigureAwait(false))
        {
            LogKillTimedOut(_logger, process.Pid);
        }
    }

    private async Task<bool> ExitedWithin(TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            await _exited.Task.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return true; // The watcher was disposed: nothing more to wait for.
        }
    }

    /// <summary>Releases the QMP connection and the exit watcher. Does not stop the VM: use <see cref="StopAsync"/>.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        if (_qmp is { } qmp)
        {
            await qmp.DisposeAsync().ConfigureAwait(false);
        }

        // Give a VM that is already going away the chance to be reaped by us rather than become a zombie.
        if (_stopRequested && !_exited.Task.IsCompleted)
        {
            await ExitedWithin(TimeSpan.FromSeconds(1), CancellationToken.None).ConfigureAwait(false);
        }

        _disposing.Cancel();
        _disposing.Dispose();
    }

    private static string Quote(string arg) => arg.Any(c => char.IsWhiteSpace(c) || c is '"' or '\'') ? $"'{arg}'" : arg;

    [LoggerMessage(Level = LogLevel.Debug, Message = "starting {Path} {Arguments}")]
    private static partial void LogStarting(ILogger logger, string path, string arguments);

    [LoggerMessage(Level = LogLevel.Information, Message = "QEMU {Version} started as pid {Pid}; QMP ready after {ElapsedMs} ms")]
    private static partial void LogStarted(ILogger logger, int pid, long elapsedMs, string version);

    [LoggerMessage(Level = LogLevel.Debug, Message = "QMP event {Event} {Data}")]
    private static partial void LogEvent(ILogger logger, string @event, string data);

    [LoggerMessage(Level = LogLevel.Error, Message = "QEMU (pid {Pid}) exited unexpectedly: {Exit}; console tail:\n{Console}")]
    private static partial void LogUnexpectedExit(ILogger logger, int pid, string exit, string console);

    [LoggerMessage(Level = LogLevel.Warning, Message = "QMP quit failed: {Reason}; sending SIGTERM")]
    private static partial void LogQuitFailed(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "QEMU (pid {Pid}) did not exit; killing it")]
    private static partial void LogKilling(ILogger logger, int pid);

    [LoggerMessage(Level = LogLevel.Error, Message = "QEMU (pid {Pid}) survived SIGKILL for 5 s")]
    private static partial void LogKillTimedOut(ILogger logger, int pid);
}

using KataSharp.Native;
using KataSharp.Runtime.Hypervisors;
using Microsoft.Extensions.Logging;

namespace KataSharp.Runtime.Storage;

/// <summary>
/// A helper daemon of a sandbox (virtiofsd): started detached like the VMM, so that a kept sandbox keeps it,
/// reaped by this process while it is its child, and stopped with SIGTERM then SIGKILL. One started by
/// another process (a kept sandbox being removed) is found again from its <see cref="ProcessIdentity"/>.
/// </summary>
public sealed partial class HelperProcess : IAsyncDisposable
{
    private static readonly TimeSpan TermWait = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan KillWait = TimeSpan.FromSeconds(5);

    private readonly string _name;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _disposing = new();
    private int _disposed;

    private HelperProcess(string name, ProcessIdentity identity, bool child, ILogger logger)
    {
        _name = name;
        _logger = logger;
        Identity = identity;
        Exited = Watch(identity, child);
    }

    public ProcessIdentity Identity { get; }

    /// <summary>Completes when the process has exited (and, for a child, has been reaped).</summary>
    public Task<ProcessExitStatus> Exited { get; }

    /// <exception cref="SharedFilesystemException">The executable could not be started.</exception>
    public static HelperProcess Start(string path, IReadOnlyList<string> arguments, string logPath, ILogger logger)
    {
        int pid;
        try
        {
            pid = DetachedProcess.Spawn(path, arguments, logPath);
        }
        catch (HypervisorException e)
        {
            throw new SharedFilesystemException(e.Message, e);
        }

        LogStarted(logger, Path.GetFileName(path), pid);
        return new HelperProcess(Path.GetFileName(path), ProcessIdentity.Of(pid) ?? new ProcessIdentity(pid, -1), child: true, logger);
    }

    /// <summary>A helper another process started; it can be stopped but not reaped from here.</summary>
    public static HelperProcess Attach(string name, ProcessIdentity identity, ILogger logger) => new(name, identity, child: false, logger);

    /// <summary>SIGTERM, then SIGKILL if it lingers; returns once it is gone (reaped, when it is our child). Safe to repeat.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (Exited.IsCompleted)
        {
            return;
        }

        Identity.Signal(Linux.SIGTERM);
        if (await ExitedWithin(TermWait, cancellationToken).ConfigureAwait(false))
        {
            return;
        }

        LogKilling(_logger, _name, Identity.Pid);
        Identity.Signal(Linux.SIGKILL);
        if (!await ExitedWithin(KillWait, cancellationToken).ConfigureAwait(false))
        {
            LogKillTimedOut(_logger, _name, Identity.Pid);
        }
    }

    /// <summary>Stops watching; does not stop the process (a kept sandbox keeps its helper).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _disposing.CancelAsync().ConfigureAwait(false);
        _disposing.Dispose();
    }

    private async Task<bool> ExitedWithin(TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            await Exited.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return true; // Disposed: nothing more to wait for.
        }
    }

    private async Task<ProcessExitStatus> Watch(ProcessIdentity identity, bool child)
    {
        var status = child
            ? await ProcessExitWatcher.WaitForChildAsync(identity.Pid, _disposing.Token).ConfigureAwait(false)
            : await ProcessExitWatcher.WaitForProcessAsync(identity.Pid, identity.StartTime, _disposing.Token).ConfigureAwait(false);
        LogExited(_logger, _name, identity.Pid, status.ExitCode?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? $"signal {status.Signal}");
        return status;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{Name} started as pid {Pid}")]
    private static partial void LogStarted(ILogger logger, string name, int pid);

    [LoggerMessage(Level = LogLevel.Debug, Message = "{Name} (pid {Pid}) exited: {Status}")]
    private static partial void LogExited(ILogger logger, string name, int pid, string status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Name} (pid {Pid}) did not exit on SIGTERM; killing it")]
    private static partial void LogKilling(ILogger logger, string name, int pid);

    [LoggerMessage(Level = LogLevel.Error, Message = "{Name} (pid {Pid}) survived SIGKILL for 5 s")]
    private static partial void LogKillTimedOut(ILogger logger, string name, int pid);
}

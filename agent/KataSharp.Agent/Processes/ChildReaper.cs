using KataSharp.Native;
using KataSharp.Native.Processes;
using Microsoft.Extensions.Logging;

namespace KataSharp.Agent.Processes;

/// <summary>
/// The one place that calls waitpid. A single thread reaps every child (our own and the orphans
/// that reparent to us as subreaper or PID 1) and hands each exit to whoever registered the pid.
/// A process can die before anyone registers it (a container init read from a pid file), so
/// unclaimed exits are kept, bounded, for a later <see cref="Adopt"/>.
/// </summary>
internal sealed partial class ChildReaper : IDisposable
{
    private const int MaxUnclaimed = 4096;
    private static readonly TimeSpan UnclaimedLifetime = TimeSpan.FromMinutes(10);

    private readonly Lock _gate = new();
    private readonly Dictionary<int, TaskCompletionSource<ProcessExit>> _waiters = [];
    private readonly Dictionary<int, ProcessExit> _unclaimed = [];
    private readonly AutoResetEvent _childAdded = new(false);
    private readonly ILogger _logger;
    private readonly Func<int, bool> _processExists;
    private Thread? _thread;
    private volatile bool _stopping;

    public ChildReaper(ILogger<ChildReaper> logger)
        : this(logger, pid => Directory.Exists($"/proc/{pid}"))
    {
    }

    internal ChildReaper(ILogger logger, Func<int, bool> processExists)
    {
        _logger = logger;
        _processExists = processExists;
    }

    public void Start()
    {
        _thread = new Thread(Run, 256 * 1024) { IsBackground = true, Name = "reaper" };
        _thread.Start();
    }

    /// <summary>
    /// Spawns a child and registers it before the reaper can see its exit, so there is no window
    /// in which a fast exit is taken for an orphan's.
    /// </summary>
    public (int Pid, Task<ProcessExit> Exit) Spawn(SpawnRequest request)
    {
        lock (_gate)
        {
            var pid = ProcessSpawner.Spawn(request);
            // Any exit recorded under this pid belongs to an earlier process that used the number.
            _unclaimed.Remove(pid);
            var waiter = NewWaiter();
            _waiters[pid] = waiter;
            _childAdded.Set();
            return (pid, waiter.Task);
        }
    }

    /// <summary>Registers interest in a process that became our child by reparenting.</summary>
    public Task<ProcessExit> Adopt(int pid)
    {
        lock (_gate)
        {
            if (_waiters.TryGetValue(pid, out var existing))
            {
                return existing.Task;
            }

            if (_unclaimed.Remove(pid, out var exit))
            {
                // If a process with this pid exists again, the stored exit is an older one's.
                if (!_processExists(pid))
                {
                    return Task.FromResult(exit);
                }
            }

            var waiter = NewWaiter();
            _waiters[pid] = waiter;
            _childAdded.Set();
            return waiter.Task;
        }
    }

    /// <summary>Records an exit as the reaper thread does; separate for tests.</summary>
    internal void Dispatch(int pid, int status, DateTimeOffset at)
    {
        var exit = new ProcessExit(pid, status, at);
        TaskCompletionSource<ProcessExit>? waiter;
        lock (_gate)
        {
            if (_waiters.Remove(pid, out waiter))
            {
                // Completed outside the lock below.
            }
            else
            {
                PruneUnclaimed(at);
                _unclaimed[pid] = exit;
            }
        }

        waiter?.TrySetResult(exit);
    }

    internal int UnclaimedCount
    {
        get
        {
            lock (_gate)
            {
                return _unclaimed.Count;
            }
        }
    }

    public void Dispose()
    {
        _stopping = true;
        _childAdded.Set();
    }

    private void Run()
    {
        while (!_stopping)
        {
            (int Pid, int Status)? reaped;
            try
            {
                reaped = SystemCalls.WaitAnyChild();
            }
            catch (Exception e)
            {
                // This thread must never die: without it no exit status would ever arrive.
                LogWaitFailed(_logger, e.Message);
                Thread.Sleep(100);
                continue;
            }

            if (reaped is not { } r)
            {
                // No children now. Sleep until one is spawned or adopted; the timeout covers orphans
                // that reparent to us without passing through Spawn.
                _childAdded.WaitOne(1000);
                continue;
            }

            LogReaped(_logger, r.Pid, WaitStatus.ToExitStatus(r.Status));
            Dispatch(r.Pid, r.Status, DateTimeOffset.UtcNow);
        }
    }

    private void PruneUnclaimed(DateTimeOffset now)
    {
        if (_unclaimed.Count < MaxUnclaimed)
        {
            return;
        }

        foreach (var (pid, exit) in _unclaimed.ToArray())
        {
            if (now - exit.ExitedAt > UnclaimedLifetime)
            {
                _unclaimed.Remove(pid);
            }
        }

        if (_unclaimed.Count >= MaxUnclaimed)
        {
            var oldest = _unclaimed.MinBy(kv => kv.Value.ExitedAt).Key;
            _unclaimed.Remove(oldest);
        }
    }

    private static TaskCompletionSource<ProcessExit> NewWaiter() =>
        new(TaskCreationOptions.RunContinuationsAsynchronously);

    [LoggerMessage(Level = LogLevel.Debug, Message = "reaped pid {Pid}, exit status {ExitStatus}")]
    private static partial void LogReaped(ILogger logger, int pid, int exitStatus);

    [LoggerMessage(Level = LogLevel.Error, Message = "waitpid failed: {Reason}")]
    private static partial void LogWaitFailed(ILogger logger, string reason);
}

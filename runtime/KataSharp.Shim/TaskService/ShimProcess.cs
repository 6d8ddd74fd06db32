using System.Text.Json.Nodes;
using Google.Protobuf.WellKnownTypes;
using KataSharp.Protocol.Containerd.Events;
using KataSharp.Protocol.Errors;
using KataSharp.Runtime.Sandbox;
using KataSharp.Shim.Events;
using Status = KataSharp.Protocol.Containerd.Types.Task.Status;

namespace KataSharp.Shim.TaskService;

/// <summary>
/// One process containerd knows about, a container's init (empty exec id) or an exec, as containerd's
/// pkg/process state machine: it owns the transitions (created → running ⇄ paused → stopped) and the
/// order of the events they publish. TaskStart never follows TaskExit, TaskOOM reaches containerd before
/// the exit it caused, the exit is published once, and a process that never started counts as killed
/// when it is killed or deleted (runc's shim reports the SIGKILLed runc init the same way).
/// </summary>
internal sealed class ShimProcess
{
    /// <summary>128 + SIGKILL: what a process that was killed before it ran reports.</summary>
    public const int KilledExitCode = 137;

    /// <summary>The exit a vanished VM leaves its processes with.</summary>
    public const int VmGoneExitCode = 255;

    private static readonly TimeSpan OutputDrainTimeout = TimeSpan.FromSeconds(5);

    private readonly TaskCompletionSource<ProcessExitInfo> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SemaphoreSlim _transition = new(1, 1);
    private readonly ITaskEvents _events;
    private readonly Func<uint> _pid;
    private readonly Func<Exception, Task<bool>> _waitLost;
    private Status _status = Status.Unknown;
    private DateTimeOffset _startedAt = DateTimeOffset.UnixEpoch;

    /// <param name="waitLost">Asked when the wait for the guest's exit fails: whether to report the process exited
    /// (<see cref="VmGoneExitCode"/>) now. No when the VM is gone, whose watcher reports every process of the pod.</param>
    public ShimProcess(string containerId, string execId, StdioPaths stdio, JsonObject? execSpec, ITaskEvents events, Func<uint> pid,
        Func<Exception, Task<bool>> waitLost)
    {
        ContainerId = containerId;
        ExecId = execId;
        Stdio = stdio;
        ExecSpec = execSpec;
        _events = events;
        _pid = pid;
        _waitLost = waitLost;
    }

    public string ContainerId { get; }

    /// <summary>Empty for the container's init process.</summary>
    public string ExecId { get; }

    public bool IsInit => ExecId.Length == 0;

    public StdioPaths Stdio { get; }

    /// <summary>The OCI process an exec runs; null for init.</summary>
    public JsonObject? ExecSpec { get; }

    /// <summary>The process in the guest: set at create for init, at start for an exec.</summary>
    public IGuestProcess? Guest { get; set; }

    public FifoIo? Io { get; set; }

    public Task<ProcessExitInfo> Exited => _exited.Task;

    /// <summary>Unknown until the process is created.</summary>
    public Status Status => _status;

    public ProcessExitInfo? Exit => _exited.Task.IsCompletedSuccessfully ? _exited.Task.Result : null;

    public Timestamp ExitedAtTimestamp => Timestamp.FromDateTimeOffset(Exit?.ExitedAt ?? DateTimeOffset.UnixEpoch);

    /// <summary>The process exists (in the guest, for init): publishes its creation event, after which it may start.</summary>
    public void Created(string topic, Google.Protobuf.IMessage @event)
    {
        _status = Status.Created;
        _events.Publish(topic, @event);
    }

    /// <summary>Starts a created process with <paramref name="start"/>, publishes its start, and watches for its exit.</summary>
    /// <exception cref="KataSharpException">FailedPrecondition unless created; the guest's error otherwise.</exception>
    public async Task StartAsync(Func<CancellationToken, Task<IGuestProcess>> start, CancellationToken cancellationToken)
    {
        await _transition.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_status is not Status.Created)
            {
                throw Errdefs.FailedPrecondition($"{Name} is {_status.ToString().ToLowerInvariant()}, not created");
            }

            Guest = await start(cancellationToken).ConfigureAwait(false);
            _status = Status.Running;
            _startedAt = DateTimeOffset.UtcNow;
            if (IsInit)
            {
                _events.Publish(Topics.TaskStart, new TaskStart { ContainerId = ContainerId, Pid = _pid() });
            }
            else
            {
                _events.Publish(Topics.TaskExecStarted, new TaskExecStarted { ContainerId = ContainerId, ExecId = ExecId, Pid = _pid() });
            }

            _ = WatchExitAsync(Guest);
        }
        finally
        {
            _transition.Release();
        }
    }

    private async Task WatchExitAsync(IGuestProcess guest)
    {
        ProcessExitInfo exit;
        try
        {
            exit = await guest.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is KataSharpException or OperationCanceledException)
        {
            // Usually the VM went away, and the pod reports the exit in its own order. A process whose exit is never
            // reported runs for containerd for good, and an ExecSync on it never returns.
            if (await _waitLost(e).ConfigureAwait(false))
            {
                await ExitAsync(new ProcessExitInfo(VmGoneExitCode, DateTimeOffset.UtcNow, false)).ConfigureAwait(false);
            }

            return;
        }

        exit = exit with { ExitedAt = ExitClock.Clamp(exit.ExitedAt, _startedAt, DateTimeOffset.UtcNow) };

        // Output that the process wrote before it exited belongs before its exit event.
        if (Io is { } io)
        {
            await Task.WhenAny(io.OutputDone, Task.Delay(OutputDrainTimeout)).ConfigureAwait(false);
        }

        if (exit.OomKilled)
        {
            // CRI takes the exit from Wait and the OOM from the event stream: it must have the OOM
            // first, or the container is reported as an Error rather than OOMKilled.
            await _events.PublishAndWaitAsync(Topics.TaskOom, new TaskOOM { ContainerId = ContainerId })
                .WaitAsync(OutputDrainTimeout).ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
        }

        await ExitAsync(exit).ConfigureAwait(false);
    }

    /// <summary>Signals the process; one that never started is killed on the spot and its exit published.</summary>
    /// <exception cref="KataSharpException">NotFound once it has exited.</exception>
    public async Task KillAsync(int signal, bool all, CancellationToken cancellationToken)
    {
        IGuestProcess guest;
        await _transition.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            switch (_status)
            {
                case Status.Stopped:
                    throw Errdefs.NotFound($"process {Name} already finished");
                case Status.Created or Status.Unknown:
                    // Never started: nothing runs to signal, but waiters (CRI cleanup) must be released.
                    ExitLocked(new ProcessExitInfo(KilledExitCode, DateTimeOffset.UtcNow, false));
                    return;
            }

            guest = Guest!;
        }
        finally
        {
            _transition.Release();
        }

        try
        {
            await guest.SignalAsync(signal, all, cancellationToken).ConfigureAwait(false);
        }
        catch (KataSharpException e) when (e.Kind is ErrorKind.NotFound)
        {
            throw Errdefs.NotFound($"process {Name} already finished");
        }
    }

    /// <summary>
    /// Deletes the process's state. A running (or paused) process cannot be deleted; one that never started
    /// counts as killed, and its TaskExit is published before the caller publishes anything about the delete.
    /// </summary>
    /// <exception cref="KataSharpException">FailedPrecondition while it runs or is still being created.</exception>
    public async Task DeleteAsync(CancellationToken cancellationToken)
    {
        await _transition.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_status is Status.Running or Status.Paused)
            {
                throw Errdefs.FailedPrecondition($"{Name} is still running");
            }

            // Its Create is still under way (in the guest, with its stdio open): removing it now would pull the
            // container out from under that Create, which then failed on disposed stdio (found by fuzzing).
            if (_status is Status.Unknown)
            {
                throw Errdefs.FailedPrecondition($"{Name} is still being created");
            }

            ExitLocked(new ProcessExitInfo(KilledExitCode, DateTimeOffset.UtcNow, false));
        }
        finally
        {
            _transition.Release();
        }
    }

    /// <summary>The VM is gone, and this process with it: it exits now, unless it already had.</summary>
    public Task VmGoneAsync() => ExitAsync(new ProcessExitInfo(VmGoneExitCode, DateTimeOffset.UtcNow, false));

    /// <summary>Records a pause or a resume; only a running (or paused) process changes.</summary>
    public bool SetPaused(bool paused)
    {
        if (_status is not (Status.Running or Status.Paused))
        {
            return false;
        }

        _status = paused ? Status.Paused : Status.Running;
        return true;
    }

    private async Task ExitAsync(ProcessExitInfo exit)
    {
        await _transition.WaitAsync().ConfigureAwait(false);
        try
        {
            ExitLocked(exit);
        }
        finally
        {
            _transition.Release();
        }
    }

    /// <summary>Records the exit once and publishes it; later reports (a VM crash after a normal exit) are ignored.</summary>
    private void ExitLocked(ProcessExitInfo exit)
    {
        if (_status is Status.Stopped)
        {
            return;
        }

        _status = Status.Stopped;
        _exited.TrySetResult(exit);
        _events.Publish(Topics.TaskExit, new TaskExit
        {
            ContainerId = ContainerId,
            Id = IsInit ? ContainerId : ExecId,
            Pid = _pid(),
            ExitStatus = (uint)exit.ExitCode,
            ExitedAt = ExitedAtTimestamp,
        });
    }

    private string Name => IsInit ? $"container {ContainerId}" : $"exec {ExecId} of {ContainerId}";
}

using System.Text.Json.Nodes;
using Google.Protobuf.WellKnownTypes;
using KataSharp.Protocol.Containerd.Types.Task;
using KataSharp.Runtime.Sandbox;

namespace KataSharp.Shim.TaskService;

/// <summary>
/// One process containerd knows about: a container's init (empty exec id) or an exec. It owns the
/// process's lifecycle state as containerd sees it, and the one place its exit is recorded.
/// </summary>
internal sealed class ShimProcess
{
    private readonly TaskCompletionSource<ProcessExitInfo> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly object _lock = new();
    private Status _status = Status.Created;

    public ShimProcess(string containerId, string execId, StdioPaths stdio, JsonObject? execSpec)
    {
        ContainerId = containerId;
        ExecId = execId;
        Stdio = stdio;
        ExecSpec = execSpec;
    }

    public string ContainerId { get; }

    /// <summary>Empty for the container's init process.</summary>
    public string ExecId { get; }

    public StdioPaths Stdio { get; }

    /// <summary>The OCI process an exec runs; null for init.</summary>
    public JsonObject? ExecSpec { get; }

    public ContainerProcess? Guest { get; set; }

    public FifoIo? Io { get; set; }

    /// <summary>Serialises Start against Kill and the exit, so TaskStart never follows TaskExit.</summary>
    public SemaphoreSlim StartLock { get; } = new(1, 1);

    public Task<ProcessExitInfo> Exited => _exited.Task;

    public Status Status
    {
        get
        {
            lock (_lock)
            {
                return _status;
            }
        }
    }

    public ProcessExitInfo? Exit => _exited.Task.IsCompletedSuccessfully ? _exited.Task.Result : null;

    public void MarkRunning()
    {
        lock (_lock)
        {
            if (_status is Status.Created)
            {
                _status = Status.Running;
            }
        }
    }

    public void SetPaused(bool paused)
    {
        lock (_lock)
        {
            if (_status is Status.Running or Status.Paused)
            {
                _status = paused ? Status.Paused : Status.Running;
            }
        }
    }

    /// <summary>Records the exit once; later reports (a VM crash after a normal exit) are ignored.</summary>
    public bool MarkExited(ProcessExitInfo exit)
    {
        lock (_lock)
        {
            if (_status is Status.Stopped)
            {
                return false;
            }

            _status = Status.Stopped;
        }

        _exited.TrySetResult(exit);
        return true;
    }

    public Timestamp ExitedAtTimestamp => Timestamp.FromDateTimeOffset(Exit?.ExitedAt ?? DateTimeOffset.UnixEpoch);
}

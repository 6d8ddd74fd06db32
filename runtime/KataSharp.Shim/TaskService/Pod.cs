using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using KataSharp.Protocol;
using KataSharp.Protocol.Containerd.Events;
using KataSharp.Protocol.Containerd.RuntimeOptions.V1;
using KataSharp.Protocol.Containerd.Task.V2;
using KataSharp.Protocol.Errors;
using KataSharp.Runtime.Metrics;
using KataSharp.Runtime.Sandbox;
using KataSharp.Runtime.Storage;
using KataSharp.Shim.Events;
using KataSharp.Shim.Lifecycle;
using KataSharp.Shim.Telemetry;
using Microsoft.Extensions.Logging;
using ContainerdStatus = KataSharp.Protocol.Containerd.Types.Task.Status;
using Task = System.Threading.Tasks.Task;

namespace KataSharp.Shim.TaskService;

/// <summary>
/// The pod this shim serves: its containers and the one VM they share. The pod's first container boots the
/// VM, the others join it, and deleting the container that owns it ends it. It watches the VM for OOM kills
/// (reported for known containers only) and for its death, which every process of the pod shares.
/// </summary>
internal sealed partial class Pod : IAsyncDisposable
{
    private static readonly TimeSpan OomRetryDelay = TimeSpan.FromSeconds(1);

    private readonly IPodVmFactory _vmFactory;
    private readonly ITaskEvents _events;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, ShimContainer> _containers = new();
    private readonly SemaphoreSlim _vmLock = new(1, 1);
    private CancellationTokenSource? _watchStop;
    private Task _oomWatch = Task.CompletedTask;
    private IPodVm? _vm;
    private ShimMetricsEndpoint? _metrics;
    private long _droppedOomEvents;

    public Pod(IPodVmFactory vmFactory, ITaskEvents events, ILogger logger)
    {
        _vmFactory = vmFactory;
        _events = events;
        _logger = logger;
    }

    /// <summary>The task pid of every container: the VM's, or 0 while there is none.</summary>
    public uint Pid => _vm?.Pid ?? 0;

    public bool IsEmpty => _containers.IsEmpty;

    /// <summary>OOM events the agent reported for containers this pod does not have: dropped, and counted here.</summary>
    public long DroppedOomEvents => Interlocked.Read(ref _droppedOomEvents);

    /// <exception cref="KataSharpException">NotFound for an unknown id.</exception>
    public ShimContainer Find(string id) =>
        _containers.TryGetValue(id, out var container) ? container : throw Errdefs.NotFound($"container {id}: not found");

    /// <summary>A container whose init runs, and the VM it runs in.</summary>
    /// <exception cref="KataSharpException">NotFound, or FailedPrecondition unless it runs.</exception>
    public (ShimContainer Container, IPodVm Vm) Running(string id)
    {
        var container = Find(id);
        return _vm is { } vm && container.Init.Status is ContainerdStatus.Running or ContainerdStatus.Paused
            ? (container, vm)
            : throw Errdefs.FailedPrecondition($"container {id} is not running");
    }

    private IReadOnlyList<string> RunningContainerIds() =>
        [.. _containers.Values.Where(c => c.Init.Status is ContainerdStatus.Running or ContainerdStatus.Paused).Select(c => c.Id)];

    /// <summary>The VM, for a read-only call about a container that may have stopped; null when there is none.</summary>
    public IPodVm? Vm => _vm;

    /// <summary>Creates a container (booting the VM for the first one) and publishes TaskCreate.</summary>
    /// <exception cref="KataSharpException">AlreadyExists, InvalidArgument for a bad bundle or stdio, FailedPrecondition for a host PID or IPC
    /// namespace or for a volume whose propagation cannot cross the VM boundary, or the guest's error.</exception>
    public async Task<ShimContainer> CreateAsync(CreateTaskRequest request, CancellationToken cancellationToken)
    {
        BundleSpec spec;
        try
        {
            spec = BundleSpec.Load(request.Bundle);
        }
        catch (InvalidDataException e)
        {
            throw Errdefs.InvalidArgument(e.Message);
        }

        HostNamespaceRefusal.Check(spec.Spec);
        VolumePropagation.RequireHostToContainerOnly(spec.Spec);
        var stdio = new StdioPaths(request.Stdin, request.Stdout, request.Stderr, request.Terminal);
        var init = new ShimProcess(request.Id, "", stdio, null, _events, () => Pid, e => WaitLostAsync(request.Id, "", e));
        var container = new ShimContainer(request.Id, request.Bundle, spec, init, spec.CreatesSandbox);
        if (!_containers.TryAdd(request.Id, container))
        {
            throw Errdefs.AlreadyExists($"container {request.Id} already exists");
        }

        try
        {
            await CreateInGuestAsync(request, container, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            _containers.TryRemove(request.Id, out _);
            await UndoCreateAsync(container).ConfigureAwait(false);
            throw;
        }

        init.Created(Topics.TaskCreate, new TaskCreate
        {
            ContainerId = request.Id,
            Bundle = request.Bundle,
            Rootfs = { request.Rootfs },
            Io = new TaskIO { Stdin = request.Stdin, Stdout = request.Stdout, Stderr = request.Stderr, Terminal = request.Terminal },
            Pid = Pid,
        });
        return container;
    }

    private async Task CreateInGuestAsync(CreateTaskRequest request, ShimContainer container, CancellationToken cancellationToken)
    {
        if (request.Rootfs.Count > 0)
        {
            Directory.CreateDirectory(container.RootfsDirectory);
            try
            {
                RootfsMounter.MountAll(request.Rootfs.Select(m => new RootfsMount(m.Type, m.Source, m.Options)).ToList(), container.RootfsDirectory);
            }
            catch (Exception e) when (e is ArgumentException or IOException)
            {
                throw Errdefs.InvalidArgument($"mounting the rootfs of {request.Id}: {e.Message}");
            }

            container.RootfsMounted = true;
        }

        var vm = container.OwnsVm
            ? await BootVmAsync(request, container.Spec, cancellationToken).ConfigureAwait(false)
            : _vm ?? throw Errdefs.FailedPrecondition($"container {request.Id} belongs to sandbox {container.Spec.GroupId(request.Id)}, which this shim does not run");

        await ResourceFit.GrowToFitAsync(vm, (container.Spec.Spec["linux"] as JsonObject)?["resources"] as JsonObject, request.Id, cancellationToken).ConfigureAwait(false);

        var stdio = container.Init.Stdio;
        var io = OpenIo(stdio, $"{request.Id}");
        container.Init.Io = io;
        container.Guest = await vm.CreateContainerAsync(new ContainerOptions
        {
            Id = request.Id,
            Spec = GuestSpecAdapter.Adapt(container.Spec.Spec),
            RootfsDirectory = container.RootfsDirectory,
            Stdin = stdio.Stdin.Length > 0,
            Stdout = stdio.Stdout.Length > 0,
            Stderr = stdio.Stderr.Length > 0 && !stdio.Terminal,
            Terminal = stdio.Terminal,
            SandboxContainer = container.OwnsVm,
        }, cancellationToken).ConfigureAwait(false);

        container.Init.Guest = container.Guest.Init;
        io.Start(container.Guest.Init);
    }

    private FifoIo OpenIo(StdioPaths stdio, string what)
    {
        var io = new FifoIo(stdio, _logger);
        try
        {
            io.OpenOutputs();
        }
        catch (Exception e) when (e is ArgumentException or IOException or UnauthorizedAccessException)
        {
            throw Errdefs.InvalidArgument($"opening the stdio of {what}: {e.Message}");
        }

        return io;
    }

    private async Task<IPodVm> BootVmAsync(CreateTaskRequest request, BundleSpec spec, CancellationToken cancellationToken)
    {
        await _vmLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_vm is not null)
            {
                throw Errdefs.FailedPrecondition($"this shim already runs sandbox {_vm.Id}");
            }

            var configPath = request.Options is { } options && TypeUrls.Is<Options>(options) ? TypeUrls.Unpack<Options>(options).ConfigPath : null;
            var vm = await _vmFactory.CreateAsync(request.Id, request.Bundle, spec, configPath, cancellationToken).ConfigureAwait(false);
            _vm = vm;
            _metrics = vm.Metrics is { } source
                ? ShimMetricsEndpoint.TryStart(source, new PodMetricsCollector(source, vm.Agent, RunningContainerIds, AgentRpcMetrics.Process), _logger)
                : null;
            _watchStop = new CancellationTokenSource();
            _oomWatch = WatchOomAsync(vm, _watchStop.Token);
            _ = WatchVmAsync(vm);
            return vm;
        }
        finally
        {
            _vmLock.Release();
        }
    }

    /// <summary>Publishes TaskOOM for every OOM kill the agent reports of a container this pod has, until the VM goes.</summary>
    private async Task WatchOomAsync(IPodVm vm, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            string containerId;
            try
            {
                containerId = await vm.Agent.NextOomAsync(stop).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException || e is KataSharpException { Kind: ErrorKind.Cancelled or ErrorKind.Unavailable })
            {
                return;
            }
            catch (KataSharpException e)
            {
                LogOomWatchFailed(_logger, e.Message);
                await Task.Delay(OomRetryDelay, stop).ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
                continue;
            }

            // Only a container containerd has been told of may have an OOM: anything else is the guest's invention.
            if (_containers.TryGetValue(containerId, out var container) && container.Init.Status is not ContainerdStatus.Unknown)
            {
                _events.Publish(Topics.TaskOom, new TaskOOM { ContainerId = containerId });
            }
            else if (Interlocked.Increment(ref _droppedOomEvents) == 1)
            {
                // A guest that makes up container ids must not reach containerd; logged once, counted always.
                LogUnknownOom(_logger, containerId.Length > 64 ? containerId[..64] + "…" : containerId);
            }
        }
    }

    /// <summary>
    /// A wait for a process's exit failed. When the VM is gone (seen within <see cref="LostWaitGrace"/>, as its agent
    /// connection usually breaks first) or being torn down, its watcher reports every process: no. Otherwise the agent
    /// lost the process while the VM lives: logged, and the process is reported exited, since nothing else will.
    /// </summary>
    private async Task<bool> WaitLostAsync(string containerId, string execId, Exception error)
    {
        if (_vm is not { } vm || await Task.WhenAny(vm.Exited, Task.Delay(LostWaitGrace)).ConfigureAwait(false) == vm.Exited || _vm != vm)
        {
            return false;
        }

        LogWaitLost(_logger, containerId, execId, error.Message);
        return true;
    }

    /// <summary>How long a failed wait gives the VM to be seen gone.</summary>
    internal TimeSpan LostWaitGrace { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>A VM that dies under its containers takes their processes with it: report them exited.</summary>
    private async Task WatchVmAsync(IPodVm vm)
    {
        var exit = await vm.Exited.ConfigureAwait(false);
        // The sandbox container last, as when a pod stops: CRI reads the pod's exit as the end of the pod.
        foreach (var container in _containers.Values.OrderBy(c => c.OwnsVm))
        {
            LogVmGone(_logger, container.Id, exit);
            foreach (var process in container.Processes)
            {
                await process.VmGoneAsync().ConfigureAwait(false);
            }
        }
    }

    private async Task UndoCreateAsync(ShimContainer container)
    {
        if (container.Init.Io is { } io)
        {
            await io.DisposeAsync().ConfigureAwait(false);
        }

        if (container.RootfsMounted)
        {
            TryUnmountRootfs(container);
        }

        if (container.OwnsVm && !_containers.Values.Any(c => c.OwnsVm))
        {
            await StopVmAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Starts a created init or exec, publishing its start.</summary>
    public Task StartAsync(ShimContainer container, ShimProcess process, CancellationToken cancellationToken) =>
        process.StartAsync(async ct =>
        {
            if (process.IsInit)
            {
                await container.Guest!.StartAsync(ct).ConfigureAwait(false);
                return container.Guest.Init;
            }

            var io = OpenIo(process.Stdio, $"exec {process.ExecId}");
            process.Io = io;
            var guest = await container.Guest!.ExecAsync(process.ExecId, process.ExecSpec!, process.Stdio.Stdin.Length > 0, process.Stdio.Terminal, ct).ConfigureAwait(false);
            io.Start(guest);
            return guest;
        }, cancellationToken);

    /// <summary>Adds an exec to a running container and publishes TaskExecAdded; it runs at Start.</summary>
    /// <exception cref="KataSharpException">FailedPrecondition unless the container runs; AlreadyExists for a used exec id.</exception>
    public void AddExec(ShimContainer container, string execId, StdioPaths stdio, JsonObject spec)
    {
        if (container.Init.Status is not (ContainerdStatus.Running or ContainerdStatus.Paused))
        {
            throw Errdefs.FailedPrecondition($"container {container.Id} is not running");
        }

        var exec = new ShimProcess(container.Id, execId, stdio, spec, _events, () => Pid, e => WaitLostAsync(container.Id, execId, e));
        if (!container.Execs.TryAdd(execId, exec))
        {
            throw Errdefs.AlreadyExists($"id {execId}: already exists");
        }

        exec.Created(Topics.TaskExecAdded, new TaskExecAdded { ContainerId = container.Id, ExecId = execId });
    }

    /// <summary>
    /// Deletes an exec, or a container with its guest side (and the VM with the container that owns it),
    /// publishing TaskDelete for a container. A process that never started is killed first, so its TaskExit
    /// comes before the TaskDelete, as with runc.
    /// </summary>
    /// <returns>The process's exit and the task pid it had.</returns>
    /// <exception cref="KataSharpException">FailedPrecondition while the process runs.</exception>
    public async Task<(ProcessExitInfo Exit, uint Pid)> DeleteAsync(ShimContainer container, string execId, CancellationToken cancellationToken)
    {
        var process = container.Process(execId);
        await process.DeleteAsync(cancellationToken).ConfigureAwait(false);
        var exit = process.Exit!;
        var pid = Pid;
        if (!process.IsInit)
        {
            container.Execs.TryRemove(execId, out _);
            if (process.Io is { } io)
            {
                await io.DisposeAsync().ConfigureAwait(false);
            }

            return (exit, pid);
        }

        await RemoveAsync(container, cancellationToken).ConfigureAwait(false);
        _events.Publish(Topics.TaskDelete, new TaskDelete
        {
            ContainerId = container.Id,
            Id = container.Id,
            Pid = pid,
            ExitStatus = (uint)exit.ExitCode,
            ExitedAt = process.ExitedAtTimestamp,
        });
        return (exit, pid);
    }

    private async Task RemoveAsync(ShimContainer container, CancellationToken cancellationToken)
    {
        foreach (var process in container.Processes)
        {
            if (process.Io is { } io)
            {
                await io.DisposeAsync().ConfigureAwait(false);
            }
        }

        // The VM's owner goes last, and the VM's end (DestroySandbox) ends every container in it: removing the
        // owner first would only add a crun delete in the guest, seconds of it on a loaded host, inside the
        // deadline of containerd's Delete (CRI's 10 s for a sandbox exit).
        if (!container.OwnsVm && _vm is { } vm && !vm.Exited.IsCompleted && container.Guest is { } guest)
        {
            try
            {
                await guest.RemoveAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (KataSharpException e)
            {
                LogRemoveFailed(_logger, container.Id, e.Message);
            }
        }

        _containers.TryRemove(container.Id, out _);
        if (container.OwnsVm)
        {
            // The sandbox container goes last in CRI; a lone ctr container is its own sandbox.
            await StopVmAsync().ConfigureAwait(false);
        }

        if (container.RootfsMounted)
        {
            TryUnmountRootfs(container);
        }
    }

    private async Task StopVmAsync()
    {
        // Under the boot lock: a Create that boots a new VM meanwhile would otherwise swap in its own OOM
        // watch, which this would then wait for, never cancelled (the Delete hung; found by fuzzing).
        await _vmLock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_vm is not { } vm)
            {
                return;
            }

            _vm = null;
            if (_metrics is { } metrics)
            {
                _metrics = null;
                await metrics.DisposeAsync().ConfigureAwait(false);
            }

            if (_watchStop is { } stop)
            {
                await stop.CancelAsync().ConfigureAwait(false);
            }

            await vm.DisposeAsync().ConfigureAwait(false);
            await _oomWatch.ConfigureAwait(false);
            _watchStop?.Dispose();
            _watchStop = null;
        }
        finally
        {
            _vmLock.Release();
        }
    }

    private void TryUnmountRootfs(ShimContainer container)
    {
        try
        {
            RootfsMounter.UnmountAll(container.RootfsDirectory);
            container.RootfsMounted = false;
        }
        catch (IOException e)
        {
            LogRemoveFailed(_logger, container.Id, e.Message);
        }
    }

    /// <summary>Tears everything down when the daemon exits: containers' IO, rootfs mounts, the VM.</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var container in _containers.Values)
        {
            await RemoveAsync(container, CancellationToken.None).ConfigureAwait(false);
        }

        await StopVmAsync().ConfigureAwait(false);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{ContainerId}: the VM exited ({Exit}); its processes are reported exited")]
    private static partial void LogVmGone(ILogger logger, string containerId, string exit);

    [LoggerMessage(Level = LogLevel.Error, Message = "{ContainerId}: waiting for the exit of process '{ExecId}' failed while the VM runs ({Reason}); it is reported exited with 255")]
    private static partial void LogWaitLost(ILogger logger, string containerId, string execId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{ContainerId}: cleanup: {Reason}")]
    private static partial void LogRemoveFailed(ILogger logger, string containerId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "waiting for OOM events failed: {Reason}")]
    private static partial void LogOomWatchFailed(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "the agent reported an OOM kill in unknown container '{ContainerId}'; such events are dropped")]
    private static partial void LogUnknownOom(ILogger logger, string containerId);
}

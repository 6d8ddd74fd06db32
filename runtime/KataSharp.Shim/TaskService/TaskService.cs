using System.Text.Json;
using System.Text.Json.Nodes;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using KataSharp.Protocol;
using KataSharp.Protocol.Containerd.Events;
using KataSharp.Protocol.Containerd.Task.V2;
using KataSharp.Protocol.Errors;
using KataSharp.Protocol.Logging;
using KataSharp.Runtime;
using KataSharp.Shim.Events;
using KataSharp.Shim.Lifecycle;
using KataSharp.Shim.Logging;
using Microsoft.Extensions.Logging;
using ContainerdStatus = KataSharp.Protocol.Containerd.Types.Task.Status;
using Task = System.Threading.Tasks.Task;
using TaskBase = KataSharp.Protocol.Containerd.Task.V2.Task.TaskBase;

namespace KataSharp.Shim.TaskService;

/// <summary>
/// containerd's Task service for one pod, as a thin adapter: it checks requests, hands them to the
/// <see cref="Pod"/> and its processes' state, and shapes their answers. The task pid is QEMU's for every container.
/// </summary>
internal sealed partial class TaskService : TaskBase
{
    private static readonly TimeSpan CreateTimeout = TimeSpan.FromMinutes(3);

    /// <summary>How long a shim whose last container was deleted waits for containerd's Shutdown before it goes by itself.</summary>
    internal static readonly TimeSpan EmptyPodGrace = TimeSpan.FromSeconds(60);

    private readonly ITaskEvents _events;
    private readonly Pod _pod;
    private readonly ILogger _logger;
    private readonly TaskCompletionSource _shutdown = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // A Shutdown that came while a container was still being created (containerd's cleanup after a Create it
    // gave up on): ignoring it would leave the shim running with nothing to serve once that Create fails.
    private volatile bool _shutdownWanted;

    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _disposed = new();

    public TaskService(ShimArguments args, EventPublisher events, ILoggerFactory loggerFactory, LogLevelSwitch level)
        : this(events, new PodVmFactory(loggerFactory, new ShimLogLevel(level, args.Debug)), loggerFactory.CreateLogger("KataSharp.Shim"))
    {
    }

    internal TaskService(ITaskEvents events, IPodVmFactory vmFactory, ILogger logger, TimeProvider? time = null)
    {
        _events = events;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        _pod = new Pod(vmFactory, events, logger);
    }

    /// <summary>Completes when containerd has asked the shim to exit and it serves nothing any more.</summary>
    public Task ShutdownRequested => _shutdown.Task;

    internal Pod Pod => _pod;

    /// <summary>The latest wait of a pod left empty for containerd's Shutdown (see <see cref="ShutDownIfLeftEmptyAsync"/>).</summary>
    internal Task? EmptyPodCheck { get; private set; }

    public override async Task<CreateTaskResponse> Create(CreateTaskRequest request, ServerCallContext context)
    {
        using var scope = _logger.BeginContainerScope(request.Id);
        RequireId(request.Id);
        if (request.Checkpoint.Length > 0)
        {
            throw Errdefs.NotImplemented("checkpoint/restore is not supported in a VM sandbox");
        }

        if (request.Bundle.Length == 0)
        {
            throw Errdefs.InvalidArgument("bundle is required");
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken);
        timeout.CancelAfter(CreateTimeout);
        try
        {
            await _pod.CreateAsync(request, timeout.Token).ConfigureAwait(false);
        }
        catch
        {
            ShutDownIfWantedAndEmpty();
            throw;
        }

        return new CreateTaskResponse { Pid = _pod.Pid };
    }

    public override async Task<StartResponse> Start(StartRequest request, ServerCallContext context)
    {
        using var scope = _logger.BeginContainerScope(request.Id, request.ExecId);
        var container = Find(request.Id);
        await _pod.StartAsync(container, container.Process(request.ExecId), context.CancellationToken).ConfigureAwait(false);
        return new StartResponse { Pid = _pod.Pid };
    }

    public override async Task<DeleteResponse> Delete(DeleteRequest request, ServerCallContext context)
    {
        using var scope = _logger.BeginContainerScope(request.Id, request.ExecId);
        var (exit, pid) = await _pod.DeleteAsync(Find(request.Id), request.ExecId, context.CancellationToken).ConfigureAwait(false);
        if (request.ExecId.Length == 0 && _pod.IsEmpty)
        {
            EmptyPodCheck = ShutDownIfLeftEmptyAsync();
        }

        return new DeleteResponse { Pid = pid, ExitStatus = (uint)exit.ExitCode, ExitedAt = Timestamp.FromDateTimeOffset(exit.ExitedAt) };
    }

    public override Task<Empty> Exec(ExecProcessRequest request, ServerCallContext context)
    {
        using var scope = _logger.BeginContainerScope(request.Id, request.ExecId);
        var container = Find(request.Id);
        RequireId(request.ExecId, "exec id");
        if (request.Spec is null || request.Spec.Value.IsEmpty)
        {
            throw Errdefs.InvalidArgument("exec needs a process spec");
        }

        JsonObject process;
        try
        {
            process = StrictJson.Parse(request.Spec.Value.Span) as JsonObject ?? throw new JsonException("not an object");
        }
        catch (JsonException e)
        {
            throw Errdefs.InvalidArgument($"malformed exec process spec: {e.Message}");
        }

        _pod.AddExec(container, request.ExecId, new StdioPaths(request.Stdin, request.Stdout, request.Stderr, request.Terminal), process);
        return Task.FromResult(new Empty());
    }

    public override async Task<Empty> Kill(KillRequest request, ServerCallContext context)
    {
        using var scope = _logger.BeginContainerScope(request.Id, request.ExecId);
        await Find(request.Id).Process(request.ExecId).KillAsync((int)request.Signal, request.All, context.CancellationToken).ConfigureAwait(false);
        return new Empty();
    }

    public override async Task<WaitResponse> Wait(WaitRequest request, ServerCallContext context)
    {
        var exit = await Find(request.Id).Process(request.ExecId).Exited.WaitAsync(context.CancellationToken).ConfigureAwait(false);
        return new WaitResponse { ExitStatus = (uint)exit.ExitCode, ExitedAt = Timestamp.FromDateTimeOffset(exit.ExitedAt) };
    }

    public override Task<StateResponse> State(StateRequest request, ServerCallContext context)
    {
        var container = Find(request.Id);
        var process = container.Process(request.ExecId);
        return Task.FromResult(new StateResponse
        {
            Id = request.Id,
            Bundle = container.Bundle,
            Pid = _pod.Pid,
            Status = process.Status is ContainerdStatus.Unknown ? ContainerdStatus.Created : process.Status,
            Stdin = process.Stdio.Stdin,
            Stdout = process.Stdio.Stdout,
            Stderr = process.Stdio.Stderr,
            Terminal = process.Stdio.Terminal,
            ExitStatus = (uint)(process.Exit?.ExitCode ?? 0),
            ExitedAt = process.ExitedAtTimestamp,
            ExecId = request.ExecId,
        });
    }

    public override async Task<PidsResponse> Pids(PidsRequest request, ServerCallContext context)
    {
        var container = Find(request.Id);
        var response = new PidsResponse();
        if (container.Init.Status is ContainerdStatus.Stopped || _pod.Vm is not { } vm)
        {
            return response;
        }

        foreach (var p in await vm.Agent.ListProcessesAsync(request.Id, context.CancellationToken).ConfigureAwait(false))
        {
            response.Processes.Add(new Protocol.Containerd.Types.Task.ProcessInfo { Pid = p.Pid });
        }

        return response;
    }

    public override async Task<Empty> Pause(PauseRequest request, ServerCallContext context)
    {
        var (container, vm) = Running(request.Id);
        await vm.Agent.PauseAsync(request.Id, context.CancellationToken).ConfigureAwait(false);
        if (container.Init.SetPaused(true))
        {
            _events.Publish(Topics.TaskPaused, new TaskPaused { ContainerId = request.Id });
        }

        return new Empty();
    }

    public override async Task<Empty> Resume(ResumeRequest request, ServerCallContext context)
    {
        var (container, vm) = Running(request.Id);
        await vm.Agent.ResumeAsync(request.Id, context.CancellationToken).ConfigureAwait(false);
        if (container.Init.SetPaused(false))
        {
            _events.Publish(Topics.TaskResumed, new TaskResumed { ContainerId = request.Id });
        }

        return new Empty();
    }

    public override Task<Empty> Checkpoint(CheckpointTaskRequest request, ServerCallContext context) =>
        throw Errdefs.NotImplemented("checkpoint is not supported in a VM sandbox");

    public override async Task<Empty> ResizePty(ResizePtyRequest request, ServerCallContext context)
    {
        var process = Find(request.Id).Process(request.ExecId);
        if (process.Guest is not { } guest || process.Status is ContainerdStatus.Stopped)
        {
            return new Empty();
        }

        try
        {
            await guest.ResizeAsync(request.Height, request.Width, context.CancellationToken).ConfigureAwait(false);
        }
        catch (KataSharpException e) when (e.Kind is ErrorKind.NotFound)
        {
            // The process exited between our look and the guest's.
        }

        return new Empty();
    }

    public override async Task<Empty> CloseIO(CloseIORequest request, ServerCallContext context)
    {
        var process = Find(request.Id).Process(request.ExecId);
        if (request.Stdin && process.Io is { } io && process.Guest is { } guest && process.Status is not ContainerdStatus.Stopped)
        {
            try
            {
                await io.CloseStdinAsync(guest, context.CancellationToken).ConfigureAwait(false);
            }
            catch (KataSharpException e) when (e.Kind is ErrorKind.NotFound)
            {
                // The process is gone, and its stdin with it.
            }
        }

        return new Empty();
    }

    public override async Task<Empty> Update(UpdateTaskRequest request, ServerCallContext context)
    {
        var (_, vm) = Running(request.Id);
        if (request.Resources is null || request.Resources.Value.IsEmpty)
        {
            throw Errdefs.InvalidArgument("update needs resources");
        }

        await ResourceFit.GrowToFitAsync(vm, ResourceFit.Object(request.Resources.Value.Span, request.Id), request.Id, context.CancellationToken).ConfigureAwait(false);

        await vm.Agent.UpdateAsync(request.Id, request.Resources.Value, context.CancellationToken).ConfigureAwait(false);
        return new Empty();
    }

    public override async Task<StatsResponse> Stats(StatsRequest request, ServerCallContext context)
    {
        var container = Find(request.Id);
        if (_pod.Vm is not { } vm || container.Init.Status is not (ContainerdStatus.Running or ContainerdStatus.Paused))
        {
            throw Errdefs.NotFound($"container {request.Id} is not running");
        }

        var stats = await vm.Agent.StatsAsync(request.Id, context.CancellationToken).ConfigureAwait(false);
        return new StatsResponse { Stats = TypeUrls.Pack(MetricsConverter.ToMetrics(stats)) };
    }

    public override Task<ConnectResponse> Connect(ConnectRequest request, ServerCallContext context)
    {
        Find(request.Id);
        return Task.FromResult(new ConnectResponse { ShimPid = (uint)Environment.ProcessId, TaskPid = _pod.Pid, Version = RuntimeInfo.Version });
    }

    public override Task<Empty> Shutdown(ShutdownRequest request, ServerCallContext context)
    {
        // One shim serves the whole pod: it stays while any of the pod's containers remains, and goes
        // as soon as the last one has (a Create still under way counts as remaining until it fails).
        _shutdownWanted = true;
        if (request.Now)
        {
            _shutdown.TrySetResult();
        }

        ShutDownIfWantedAndEmpty();
        return Task.FromResult(new Empty());
    }

    private void ShutDownIfWantedAndEmpty()
    {
        if (_shutdownWanted && _pod.IsEmpty)
        {
            _shutdown.TrySetResult();
        }
    }

    /// <summary>
    /// containerd asks for Shutdown right after the Delete that empties the pod, but not when that Delete outlived
    /// its caller's deadline (CRI gives a sandbox's exit 10 s, and a VM's teardown on a loaded host can take
    /// longer): containerd then finds the task gone and moves on, and the shim would serve nothing for good. So a
    /// shim left empty goes by itself, as if asked; containerd's cleanup after a shim that went then removes its
    /// bundle. A Create in the meantime (one under way counts) keeps it.
    /// </summary>
    private async Task ShutDownIfLeftEmptyAsync()
    {
        try
        {
            await Task.Delay(EmptyPodGrace, _time, _disposed.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        if (_pod.IsEmpty && !_shutdown.Task.IsCompleted)
        {
            LogLeftEmpty(_logger, EmptyPodGrace.TotalSeconds);
            _shutdownWanted = true;
            _shutdown.TrySetResult();
        }
    }

    /// <summary>Tears everything down when the daemon exits: containers' IO, rootfs mounts, the VM.</summary>
    public async Task DisposeAllAsync()
    {
        await _disposed.CancelAsync().ConfigureAwait(false);
        await _pod.DisposeAsync().ConfigureAwait(false);
    }

    private ShimContainer Find(string id)
    {
        RequireId(id);
        return _pod.Find(id);
    }

    private (ShimContainer Container, IPodVm Vm) Running(string id)
    {
        RequireId(id);
        return _pod.Running(id);
    }

    private static void RequireId(string id, string what = "id")
    {
        if (string.IsNullOrEmpty(id))
        {
            throw Errdefs.InvalidArgument($"{what} is required");
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "the pod has no container left and containerd did not ask the shim to shut down within {Seconds} s; shutting down")]
    private static partial void LogLeftEmpty(ILogger logger, double seconds);
}

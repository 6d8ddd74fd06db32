using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using KataSharp.Protocol;
using ContainerRequest = KataSharp.Protocol.Agent.V1.ContainerRequest;
using UpdateContainerRequest = KataSharp.Protocol.Agent.V1.UpdateContainerRequest;
using KataSharp.Protocol.Containerd.Events;
using KataSharp.Protocol.Containerd.RuntimeOptions.V1;
using KataSharp.Protocol.Containerd.Task.V2;
using Task = System.Threading.Tasks.Task;
using KataSharp.Runtime;
using KataSharp.Runtime.Configuration;
using KataSharp.Runtime.Sandbox;
using KataSharp.Runtime.Storage;
using KataSharp.Shim.Events;
using KataSharp.Shim.Lifecycle;
using Microsoft.Extensions.Logging;
using ContainerdStatus = KataSharp.Protocol.Containerd.Types.Task.Status;
using TaskBase = KataSharp.Protocol.Containerd.Task.V2.Task.TaskBase;

namespace KataSharp.Shim.TaskService;

/// <summary>
/// containerd's Task service for one pod: the first container makes the VM, the others join it,
/// and every call is mapped onto the agent in that VM. The task pid is QEMU's for every container.
/// </summary>
internal sealed partial class TaskService : TaskBase
{
    private static readonly TimeSpan CreateTimeout = TimeSpan.FromMinutes(3);
    private static readonly TimeSpan OutputDrainTimeout = TimeSpan.FromSeconds(5);

    private readonly ShimArguments _args;
    private readonly EventPublisher _events;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, ShimContainer> _containers = new();
    private readonly SemaphoreSlim _vmLock = new(1, 1);
    private readonly TaskCompletionSource _shutdown = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private PodVm? _vm;

    public TaskService(ShimArguments args, EventPublisher events, ILoggerFactory loggerFactory)
    {
        _args = args;
        _events = events;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger("KataSharp.Shim");
    }

    /// <summary>Completes when containerd has asked the shim to exit and it serves nothing any more.</summary>
    public Task ShutdownRequested => _shutdown.Task;

    public override async Task<CreateTaskResponse> Create(CreateTaskRequest request, ServerCallContext context)
    {
        RequireId(request.Id);
        using var scope = _logger.BeginScope(new Dictionary<string, object> { ["ContainerId"] = request.Id });
        if (request.Checkpoint.Length > 0)
        {
            throw Errors.Unimplemented("checkpoint/restore is not supported in a VM sandbox");
        }

        var bundle = request.Bundle.Length > 0 ? request.Bundle : throw Errors.InvalidArgument("bundle is required");
        BundleSpec spec;
        try
        {
            spec = BundleSpec.Load(bundle);
        }
        catch (InvalidDataException e)
        {
            throw Errors.InvalidArgument(e.Message);
        }

        var stdio = new StdioPaths(request.Stdin, request.Stdout, request.Stderr, request.Terminal);
        var init = new ShimProcess(request.Id, "", stdio, null);
        var container = new ShimContainer(request.Id, bundle, spec, init, spec.CreatesSandbox);
        if (!_containers.TryAdd(request.Id, container))
        {
            throw Errors.AlreadyExists($"container {request.Id} already exists");
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken);
        timeout.CancelAfter(CreateTimeout);
        try
        {
            await CreateInGuestAsync(request, container, timeout.Token).ConfigureAwait(false);
        }
        catch
        {
            _containers.TryRemove(request.Id, out _);
            await UndoCreateAsync(container).ConfigureAwait(false);
            throw;
        }

        _events.Publish(Topics.TaskCreate, new TaskCreate
        {
            ContainerId = request.Id,
            Bundle = bundle,
            Rootfs = { request.Rootfs },
            Io = new TaskIO { Stdin = request.Stdin, Stdout = request.Stdout, Stderr = request.Stderr, Terminal = request.Terminal },
            Pid = VmPid,
        });
        return new CreateTaskResponse { Pid = VmPid };
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
                throw Errors.InvalidArgument($"mounting the rootfs of {request.Id}: {e.Message}");
            }

            container.RootfsMounted = true;
        }

        var vm = container.OwnsVm
            ? await CreateVmAsync(request, container.Spec, cancellationToken).ConfigureAwait(false)
            : _vm ?? throw Errors.FailedPrecondition($"container {request.Id} belongs to sandbox {container.Spec.GroupId(request.Id)}, which this shim does not run");

        var stdio = container.Init.Stdio;
        var io = new FifoIo(stdio, _logger);
        container.Init.Io = io;
        try
        {
            io.OpenOutputs();
        }
        catch (Exception e) when (e is ArgumentException or IOException or UnauthorizedAccessException)
        {
            throw Errors.InvalidArgument($"opening the stdio of {request.Id}: {e.Message}");
        }

        try
        {
            container.Guest = await vm.Sandbox.CreateContainerAsync(new ContainerOptions
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
        }
        catch (SandboxException e)
        {
            throw Errors.From(e);
        }

        container.Init.Guest = container.Guest.Init;
        io.Start(container.Guest.Init);
    }

    private async Task<PodVm> CreateVmAsync(CreateTaskRequest request, BundleSpec spec, CancellationToken cancellationToken)
    {
        await _vmLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_vm is not null)
            {
                throw Errors.FailedPrecondition($"this shim already runs sandbox {_vm.Sandbox.Id}");
            }

            var configPath = request.Options is { } options && TypeUrls.Is<Options>(options) ? TypeUrls.Unpack<Options>(options).ConfigPath : null;
            KataSharpConfig config;
            try
            {
                config = new ConfigLoader().Load(string.IsNullOrEmpty(configPath) ? null : configPath).Config;
            }
            catch (ConfigException e)
            {
                throw Errors.InvalidArgument(e.Message);
            }

            // The delete action runs in another process with no options: tell it where our state lives.
            await File.WriteAllTextAsync(Path.Combine(request.Bundle, ShimStateHint.FileName), config.Runtime.StateDir, cancellationToken).ConfigureAwait(false);
            _vm = await PodVm.CreateAsync(request.Id, spec, config, _loggerFactory, cancellationToken).ConfigureAwait(false);
            _vm.WatchOom(_events);
            _ = WatchVmAsync(_vm);
            return _vm;
        }
        finally
        {
            _vmLock.Release();
        }
    }

    /// <summary>A VM that dies under its containers takes their processes with it: report them exited.</summary>
    private async Task WatchVmAsync(PodVm vm)
    {
        var exit = await vm.Sandbox.Exited.ConfigureAwait(false);
        var now = DateTimeOffset.UtcNow;
        foreach (var container in _containers.Values)
        {
            foreach (var process in container.Execs.Values.Append(container.Init))
            {
                if (process.Status is not ContainerdStatus.Stopped && process.MarkExited(new ProcessExitInfo(255, now, false)))
                {
                    LogVmGone(_logger, container.Id, exit.ToString() ?? "");
                    PublishExit(container, process);
                }
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

        if (container.OwnsVm && _vm is { } vm && !_containers.Values.Any(c => c.OwnsVm))
        {
            _vm = null;
            await vm.DisposeAsync().ConfigureAwait(false);
        }
    }

    public override async Task<StartResponse> Start(StartRequest request, ServerCallContext context)
    {
        var container = Find(request.Id);
        var process = container.Process(request.ExecId);
        await process.StartLock.WaitAsync(context.CancellationToken).ConfigureAwait(false);
        try
        {
            if (process.Status is not ContainerdStatus.Created)
            {
                throw Errors.FailedPrecondition($"{Describe(process)} is {process.Status.ToString().ToLowerInvariant()}, not created");
            }

            try
            {
                if (process.ExecId.Length == 0)
                {
                    await container.Guest!.StartAsync(context.CancellationToken).ConfigureAwait(false);
                }
                else
                {
                    await StartExecAsync(container, process, context.CancellationToken).ConfigureAwait(false);
                }
            }
            catch (SandboxException e)
            {
                throw Errors.From(e);
            }

            process.MarkRunning();
            if (process.ExecId.Length == 0)
            {
                _events.Publish(Topics.TaskStart, new TaskStart { ContainerId = container.Id, Pid = VmPid });
            }
            else
            {
                _events.Publish(Topics.TaskExecStarted, new TaskExecStarted { ContainerId = container.Id, ExecId = process.ExecId, Pid = VmPid });
            }

            _ = WaitForExitAsync(container, process);
            return new StartResponse { Pid = VmPid };
        }
        finally
        {
            process.StartLock.Release();
        }
    }

    private async Task StartExecAsync(ShimContainer container, ShimProcess process, CancellationToken cancellationToken)
    {
        var io = new FifoIo(process.Stdio, _logger);
        try
        {
            io.OpenOutputs();
        }
        catch (Exception e) when (e is ArgumentException or IOException or UnauthorizedAccessException)
        {
            throw Errors.InvalidArgument($"opening the stdio of exec {process.ExecId}: {e.Message}");
        }

        process.Io = io;
        process.Guest = await container.Guest!.ExecAsync(process.ExecId, process.ExecSpec!, process.Stdio.Stdin.Length > 0, process.Stdio.Terminal, cancellationToken).ConfigureAwait(false);
        io.Start(process.Guest);
    }

    private async Task WaitForExitAsync(ShimContainer container, ShimProcess process)
    {
        ProcessExitInfo exit;
        try
        {
            exit = await process.Guest!.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SandboxException or OperationCanceledException)
        {
            // The VM went away (or the agent did): the watcher of the VM reports the exit.
            LogWaitFailed(_logger, container.Id, process.ExecId, e.Message);
            return;
        }

        // Output that the process wrote before it exited belongs before its exit event.
        if (process.Io is { } io)
        {
            await Task.WhenAny(io.OutputDone, Task.Delay(OutputDrainTimeout)).ConfigureAwait(false);
        }

        if (exit.OomKilled)
        {
            // CRI takes the exit from Wait and the OOM from the event stream: it must have the OOM
            // first, or the container is reported as an Error rather than OOMKilled.
            await _events.PublishAndWaitAsync(Topics.TaskOom, new TaskOOM { ContainerId = container.Id })
                .WaitAsync(OutputDrainTimeout).ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
        }

        await process.StartLock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (process.MarkExited(exit))
            {
                PublishExit(container, process);
            }
        }
        finally
        {
            process.StartLock.Release();
        }
    }

    private void PublishExit(ShimContainer container, ShimProcess process) =>
        _events.Publish(Topics.TaskExit, new TaskExit
        {
            ContainerId = container.Id,
            Id = process.ExecId.Length == 0 ? container.Id : process.ExecId,
            Pid = VmPid,
            ExitStatus = (uint)(process.Exit?.ExitCode ?? 255),
            ExitedAt = process.ExitedAtTimestamp,
        });

    public override async Task<DeleteResponse> Delete(DeleteRequest request, ServerCallContext context)
    {
        var container = Find(request.Id);
        if (request.ExecId.Length > 0)
        {
            var exec = container.Process(request.ExecId);
            if (exec.Status is ContainerdStatus.Running or ContainerdStatus.Paused)
            {
                throw Errors.FailedPrecondition($"exec {request.ExecId} is still running");
            }

            container.Execs.TryRemove(request.ExecId, out _);
            if (exec.Io is { } execIo)
            {
                await execIo.DisposeAsync().ConfigureAwait(false);
            }

            return new DeleteResponse { Pid = VmPid, ExitStatus = (uint)(exec.Exit?.ExitCode ?? 0), ExitedAt = exec.ExitedAtTimestamp };
        }

        var init = container.Init;
        if (init.Status is ContainerdStatus.Running or ContainerdStatus.Paused)
        {
            throw Errors.FailedPrecondition($"container {request.Id} is still running");
        }

        if (init.Status is ContainerdStatus.Created)
        {
            // Deleting a task that never started: it counts as killed, and waiters must be released.
            init.MarkExited(new ProcessExitInfo(137, DateTimeOffset.UtcNow, false));
        }

        var pid = VmPid;
        await RemoveContainerAsync(container, context.CancellationToken).ConfigureAwait(false);
        _events.Publish(Topics.TaskDelete, new TaskDelete
        {
            ContainerId = container.Id,
            Id = container.Id,
            Pid = pid,
            ExitStatus = (uint)(init.Exit?.ExitCode ?? 0),
            ExitedAt = init.ExitedAtTimestamp,
        });
        return new DeleteResponse { Pid = pid, ExitStatus = (uint)(init.Exit?.ExitCode ?? 0), ExitedAt = init.ExitedAtTimestamp };
    }

    private async Task RemoveContainerAsync(ShimContainer container, CancellationToken cancellationToken)
    {
        foreach (var exec in container.Execs.Values)
        {
            if (exec.Io is { } execIo)
            {
                await execIo.DisposeAsync().ConfigureAwait(false);
            }
        }

        if (container.Init.Io is { } io)
        {
            await io.DisposeAsync().ConfigureAwait(false);
        }

        if (_vm is { } vm && !vm.Sandbox.Exited.IsCompleted && container.Guest is { } guest)
        {
            try
            {
                await guest.RemoveAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (SandboxException e)
            {
                LogRemoveFailed(_logger, container.Id, e.Message);
            }
        }

        _containers.TryRemove(container.Id, out _);
        if (container.OwnsVm && _vm is { } owned)
        {
            // The sandbox container goes last in CRI; a lone ctr container is its own sandbox.
            _vm = null;
            await owned.DisposeAsync().ConfigureAwait(false);
        }

        if (container.RootfsMounted)
        {
            TryUnmountRootfs(container);
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

    public override Task<Empty> Exec(ExecProcessRequest request, ServerCallContext context)
    {
        var container = Find(request.Id);
        RequireId(request.ExecId, "exec id");
        if (request.Spec is null || request.Spec.Value.IsEmpty)
        {
            throw Errors.InvalidArgument("exec needs a process spec");
        }

        JsonObject process;
        try
        {
            process = JsonNode.Parse(request.Spec.Value.Span) as JsonObject ?? throw new JsonException("not an object");
        }
        catch (JsonException e)
        {
            throw Errors.InvalidArgument($"malformed exec process spec: {e.Message}");
        }

        if (container.Init.Status is not (ContainerdStatus.Running or ContainerdStatus.Paused))
        {
            throw Errors.FailedPrecondition($"container {request.Id} is not running");
        }

        var exec = new ShimProcess(request.Id, request.ExecId, new StdioPaths(request.Stdin, request.Stdout, request.Stderr, request.Terminal), process);
        if (!container.Execs.TryAdd(request.ExecId, exec))
        {
            throw Errors.AlreadyExists($"id {request.ExecId}: already exists");
        }

        _events.Publish(Topics.TaskExecAdded, new TaskExecAdded { ContainerId = request.Id, ExecId = request.ExecId });
        return Task.FromResult(new Empty());
    }

    public override async Task<Empty> Kill(KillRequest request, ServerCallContext context)
    {
        var container = Find(request.Id);
        var process = container.Process(request.ExecId);
        await process.StartLock.WaitAsync(context.CancellationToken).ConfigureAwait(false);
        try
        {
            switch (process.Status)
            {
                case ContainerdStatus.Stopped:
                    throw Errors.NotFound($"process {Describe(process)} already finished");
                case ContainerdStatus.Created:
                    // Never started: nothing runs to signal, but waiters (CRI cleanup) must be released.
                    if (process.MarkExited(new ProcessExitInfo(137, DateTimeOffset.UtcNow, false)))
                    {
                        PublishExit(container, process);
                    }

                    return new Empty();
            }
        }
        finally
        {
            process.StartLock.Release();
        }

        try
        {
            await process.Guest!.SignalAsync((int)request.Signal, request.All, context.CancellationToken).ConfigureAwait(false);
        }
        catch (SandboxException e) when (e.Code == SandboxErrorCode.NotFound)
        {
            throw Errors.NotFound($"process {Describe(process)} already finished");
        }
        catch (SandboxException e)
        {
            throw Errors.From(e);
        }

        return new Empty();
    }

    public override async Task<WaitResponse> Wait(WaitRequest request, ServerCallContext context)
    {
        var process = Find(request.Id).Process(request.ExecId);
        var exit = await process.Exited.WaitAsync(context.CancellationToken).ConfigureAwait(false);
        return new WaitResponse { ExitStatus = (uint)exit.ExitCode, ExitedAt = Timestamp.FromDateTimeOffset(exit.ExitedAt) };
    }

    public override Task<StateResponse> State(StateRequest request, ServerCallContext context)
    {
        var container = Find(request.Id);
        var process = container.Process(request.ExecId);
        var exit = process.Exit;
        return Task.FromResult(new StateResponse
        {
            Id = request.Id,
            Bundle = container.Bundle,
            Pid = VmPid,
            Status = process.Status,
            Stdin = process.Stdio.Stdin,
            Stdout = process.Stdio.Stdout,
            Stderr = process.Stdio.Stderr,
            Terminal = process.Stdio.Terminal,
            ExitStatus = (uint)(exit?.ExitCode ?? 0),
            ExitedAt = process.ExitedAtTimestamp,
            ExecId = request.ExecId,
        });
    }

    public override async Task<PidsResponse> Pids(PidsRequest request, ServerCallContext context)
    {
        var container = Find(request.Id);
        var response = new PidsResponse();
        if (container.Init.Status is ContainerdStatus.Stopped || _vm is null)
        {
            return response;
        }

        var processes = await GuestCallAsync(() => _vm.Sandbox.Agent.ListProcessesAsync(request.Id, context.CancellationToken)).ConfigureAwait(false);
        foreach (var p in processes)
        {
            response.Processes.Add(new Protocol.Containerd.Types.Task.ProcessInfo { Pid = p.Pid });
        }

        return response;
    }

    public override async Task<Empty> Pause(PauseRequest request, ServerCallContext context)
    {
        var container = RunningContainer(request.Id);
        await GuestCallAsync(() => _vm!.Sandbox.Agent.Client.PauseContainerAsync(new ContainerRequest { ContainerId = request.Id }, deadline: _vm.Sandbox.Agent.Deadline, cancellationToken: context.CancellationToken).ResponseAsync).ConfigureAwait(false);
        container.Init.SetPaused(true);
        _events.Publish(Topics.TaskPaused, new TaskPaused { ContainerId = request.Id });
        return new Empty();
    }

    public override async Task<Empty> Resume(ResumeRequest request, ServerCallContext context)
    {
        var container = RunningContainer(request.Id);
        await GuestCallAsync(() => _vm!.Sandbox.Agent.Client.ResumeContainerAsync(new ContainerRequest { ContainerId = request.Id }, deadline: _vm.Sandbox.Agent.Deadline, cancellationToken: context.CancellationToken).ResponseAsync).ConfigureAwait(false);
        container.Init.SetPaused(false);
        _events.Publish(Topics.TaskResumed, new TaskResumed { ContainerId = request.Id });
        return new Empty();
    }

    public override Task<Empty> Checkpoint(CheckpointTaskRequest request, ServerCallContext context) =>
        throw Errors.Unimplemented("checkpoint is not supported in a VM sandbox");

    public override async Task<Empty> ResizePty(ResizePtyRequest request, ServerCallContext context)
    {
        var process = Find(request.Id).Process(request.ExecId);
        if (process.Guest is null || process.Status is ContainerdStatus.Stopped)
        {
            return new Empty();
        }

        try
        {
            await process.Guest.ResizeAsync(request.Height, request.Width, context.CancellationToken).ConfigureAwait(false);
        }
        catch (SandboxException e) when (e.Code != SandboxErrorCode.NotFound)
        {
            throw Errors.From(e);
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
            catch (SandboxException e) when (e.Code == SandboxErrorCode.NotFound)
            {
                // The process is gone, and its stdin with it.
            }
        }

        return new Empty();
    }

    public override async Task<Empty> Update(UpdateTaskRequest request, ServerCallContext context)
    {
        RunningContainer(request.Id);
        if (request.Resources is null || request.Resources.Value.IsEmpty)
        {
            throw Errors.InvalidArgument("update needs resources");
        }

        await GuestCallAsync(() => _vm!.Sandbox.Agent.Client.UpdateContainerAsync(new UpdateContainerRequest
        {
            ContainerId = request.Id,
            ResourcesJson = request.Resources.Value,
        }, deadline: _vm.Sandbox.Agent.Deadline, cancellationToken: context.CancellationToken).ResponseAsync).ConfigureAwait(false);
        return new Empty();
    }

    public override async Task<StatsResponse> Stats(StatsRequest request, ServerCallContext context)
    {
        var container = Find(request.Id);
        if (_vm is null || container.Init.Status is ContainerdStatus.Stopped or ContainerdStatus.Created)
        {
            throw Errors.NotFound($"container {request.Id} is not running");
        }

        var stats = await GuestCallAsync(() => _vm.Sandbox.Agent.StatsContainerAsync(request.Id, context.CancellationToken)).ConfigureAwait(false);
        return new StatsResponse { Stats = TypeUrls.Pack(MetricsConverter.ToMetrics(stats)) };
    }

    public override Task<ConnectResponse> Connect(ConnectRequest request, ServerCallContext context)
    {
        Find(request.Id);
        return Task.FromResult(new ConnectResponse { ShimPid = (uint)Environment.ProcessId, TaskPid = VmPid, Version = RuntimeInfo.Version });
    }

    public override Task<Empty> Shutdown(ShutdownRequest request, ServerCallContext context)
    {
        // One shim serves the whole pod: it stays while any of the pod's containers remains.
        if (_containers.IsEmpty || request.Now)
        {
            _shutdown.TrySetResult();
        }

        return Task.FromResult(new Empty());
    }

    /// <summary>Tears everything down when the daemon exits: containers' IO, rootfs mounts, the VM.</summary>
    public async Task DisposeAllAsync()
    {
        foreach (var container in _containers.Values)
        {
            await RemoveContainerAsync(container, CancellationToken.None).ConfigureAwait(false);
        }

        if (_vm is { } vm)
        {
            _vm = null;
            await vm.DisposeAsync().ConfigureAwait(false);
        }
    }

    private uint VmPid => _vm?.Pid ?? 0;

    private ShimContainer Find(string id)
    {
        RequireId(id);
        return _containers.TryGetValue(id, out var container) ? container : throw Errors.NotFound($"container {id}: not found");
    }

    private ShimContainer RunningContainer(string id)
    {
        var container = Find(id);
        if (_vm is null || container.Init.Status is not (ContainerdStatus.Running or ContainerdStatus.Paused))
        {
            throw Errors.FailedPrecondition($"container {id} is not running");
        }

        return container;
    }

    private static void RequireId(string id, string what = "id")
    {
        if (string.IsNullOrEmpty(id))
        {
            throw Errors.InvalidArgument($"{what} is required");
        }
    }

    private static async Task<T> GuestCallAsync<T>(Func<Task<T>> call)
    {
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (RpcException e)
        {
            throw new RpcException(new Grpc.Core.Status(e.StatusCode, $"guest agent: {e.Status.Detail}"));
        }
    }

    private static string Describe(ShimProcess process) =>
        process.ExecId.Length == 0 ? $"container {process.ContainerId}" : $"exec {process.ExecId} of {process.ContainerId}";

    [LoggerMessage(Level = LogLevel.Warning, Message = "{ContainerId}: the VM exited ({Exit}); its processes are reported exited")]
    private static partial void LogVmGone(ILogger logger, string containerId, string exit);

    [LoggerMessage(Level = LogLevel.Debug, Message = "{ContainerId}/{ExecId}: wait ended without an exit: {Reason}")]
    private static partial void LogWaitFailed(ILogger logger, string containerId, string execId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{ContainerId}: cleanup: {Reason}")]
    private static partial void LogRemoveFailed(ILogger logger, string containerId, string reason);
}

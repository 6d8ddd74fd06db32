using System.Globalization;
using System.Text;
using KataSharp.Native;
using KataSharp.Agent.Processes;
using KataSharp.Agent.Sandbox;
using KataSharp.Agent.Stats;
using KataSharp.Protocol.Agent.V1;
using Microsoft.Extensions.Logging;

namespace KataSharp.Agent.Containers;

/// <summary>
/// Creates, starts, pauses, updates and removes containers through crun. Every failure path
/// undoes what it did: the bundle directory, crun's state, the stdio fds.
/// </summary>
internal sealed partial class ContainerLifecycle
{
    private static readonly TimeSpan ConsoleTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan DefaultRemoveTimeout = TimeSpan.FromSeconds(10);

    private readonly ContainerRegistry _registry;
    private readonly ICrun _crun;
    private readonly ChildReaper _reaper;
    private readonly SandboxState _sandbox;
    private readonly CgroupLocator _cgroups;
    private readonly AgentOptions _options;
    private readonly PodShm _podShm;
    private readonly ILogger _logger;

    public ContainerLifecycle(ContainerRegistry registry, ICrun crun, ChildReaper reaper, SandboxState sandbox, CgroupLocator cgroups,
        AgentOptions options, ILogger<ContainerLifecycle> logger)
    {
        _registry = registry;
        _crun = crun;
        _reaper = reaper;
        _sandbox = sandbox;
        _cgroups = cgroups;
        _options = options;
        _podShm = new PodShm(Path.Combine(options.RunDir, "pod-shm"), enabled: options.IsInit);
        _logger = logger;
    }

    public async Task<int> CreateAsync(CreateContainerRequest request, CancellationToken cancellationToken)
    {
        var id = request.ContainerId;
        Ids.RequireContainerId(id);
        var stdio = request.Stdio ?? new StdioOptions();
        var sandboxInitPid = request.SandboxContainer ? null : _registry.SandboxInitPid();
        var spec = SpecTranslator.Translate(request.SpecJson.Span, new SpecTranslationInput(
            id, _sandbox.SharedDir, request.Rootfs, stdio.Terminal, sandboxInitPid)
        {
            SharePidNamespace = _sandbox.SharedPidNamespace,
            ReadGuestDevices = () => GuestDevices.Read(),
        });
        try
        {
            _podShm.Apply(spec, request.SandboxContainer, sandboxInitPid);
        }
        catch (IOException e)
        {
            throw AgentErrors.Internal($"the pod's /dev/shm for container {id}: {e.Message}");
        }

        var rootfs = spec["root"]!["path"]!.GetValue<string>();
        if (!Directory.Exists(rootfs))
        {
            throw AgentErrors.FailedPrecondition($"rootfs {rootfs} does not exist in the guest (is the shared directory mounted?)");
        }

        var container = new Container(id, Path.Combine(_options.ContainersDir, id), request.SandboxContainer);
        if (!_registry.TryAdd(container))
        {
            throw AgentErrors.AlreadyExists($"container {id} already exists");
        }

        ProcessIo? io = null;
        var crunCreated = false;
        try
        {
            if (Directory.Exists(container.BundleDir))
            {
                Directory.Delete(container.BundleDir, recursive: true);
            }

            Directory.CreateDirectory(container.BundleDir);
            await File.WriteAllTextAsync(Path.Combine(container.BundleDir, "config.json"), spec.ToJsonString(), cancellationToken).ConfigureAwait(false);
            var pidFile = Path.Combine(container.BundleDir, "init.pid");

            crunCreated = true;
            if (stdio.Terminal)
            {
                using var console = ConsoleSocket.Create(_options.ConsoleSocketsDir);
                await _crun.CreateWithConsoleAsync(id, container.BundleDir, pidFile, console.Path, cancellationToken).ConfigureAwait(false);
                var master = await console.ReceiveMasterAsync(ConsoleTimeout, cancellationToken).ConfigureAwait(false);
                io = ProcessIo.ForTerminal(master, stdio, id);
            }
            else
            {
                io = ProcessIo.CreatePipes(stdio, id);
                await _crun.CreateWithStdioAsync(id, container.BundleDir, pidFile, io.ChildFds, cancellationToken).ConfigureAwait(false);
                io.CloseChildEnds();
            }

            var pid = ReadPidFile(pidFile);
            var exit = _reaper.Adopt(pid);
            container.CgroupDir = _cgroups.ForPid(pid);
            var oomKills = CgroupStatsReader.ReadOomKills(container.CgroupDir);
            container.OomKillsSeen = oomKills;
            container.Init = new ContainerProcess(id, string.Empty, pid, io, exit, oomKills);
            io.StartPumps(_logger);
            container.MoveTo(ContainerState.Created);
            _ = exit.ContinueWith(t => OnInitExited(container, t.Result), CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            LogCreated(_logger, id, pid, container.CgroupDir ?? "(unknown)");
            return pid;
        }
        catch (Exception e)
        {
            LogCreateFailed(_logger, id, e.Message);
            io?.Dispose();
            if (crunCreated)
            {
                await TryAsync(() => _crun.DeleteAsync(id, CancellationToken.None)).ConfigureAwait(false);
            }

            DeleteBundle(container);
            _registry.Remove(id);
            if (CrunExecFailure.For(e, spec["process"]) is { } failure)
            {
                throw failure;
            }

            throw;
        }
    }

    public async Task<int> StartAsync(string containerId, CancellationToken cancellationToken)
    {
        var container = _registry.Get(containerId);
        await container.Lifecycle.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (container.State != ContainerState.Created)
            {
                throw AgentErrors.FailedPrecondition($"container {containerId} is {container.State.ToString().ToLowerInvariant()}, not created");
            }

            await _crun.StartAsync(containerId, cancellationToken).ConfigureAwait(false);
            container.MoveTo(ContainerState.Running);

            return container.Init!.Pid;
        }
        finally
        {
            container.Lifecycle.Release();
        }
    }

    public async Task PauseAsync(string containerId, CancellationToken cancellationToken)
    {
        var container = _registry.Get(containerId);
        await container.Lifecycle.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (container.State != ContainerState.Running)
            {
                throw AgentErrors.FailedPrecondition($"container {containerId} is {container.State.ToString().ToLowerInvariant()}, not running");
            }

            await _crun.PauseAsync(containerId, cancellationToken).ConfigureAwait(false);
            container.MoveTo(ContainerState.Paused);
        }
        finally
        {
            container.Lifecycle.Release();
        }
    }

    public async Task ResumeAsync(string containerId, CancellationToken cancellationToken)
    {
        var container = _registry.Get(containerId);
        await container.Lifecycle.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (container.State != ContainerState.Paused)
            {
                throw AgentErrors.FailedPrecondition($"container {containerId} is {container.State.ToString().ToLowerInvariant()}, not paused");
            }

            await _crun.ResumeAsync(containerId, cancellationToken).ConfigureAwait(false);
            container.MoveTo(container.Init!.HasExited ? ContainerState.Stopped : ContainerState.Running);
        }
        finally
        {
            container.Lifecycle.Release();
        }
    }

    public async Task UpdateAsync(string containerId, ReadOnlyMemory<byte> resourcesJson, CancellationToken cancellationToken)
    {
        var container = _registry.Get(containerId);
        if (resourcesJson.IsEmpty)
        {
            throw AgentErrors.InvalidArgument("resources_json is empty");
        }

        try
        {
            if (System.Text.Json.Nodes.JsonNode.Parse(resourcesJson.Span) is not System.Text.Json.Nodes.JsonObject)
            {
                throw AgentErrors.InvalidArgument("resources_json must be a JSON object (OCI LinuxResources)");
            }
        }
        catch (System.Text.Json.JsonException e)
        {
            throw AgentErrors.InvalidArgument($"resources_json is not valid JSON: {e.Message}");
        }

        await container.Lifecycle.WaitAsync(cancellationToken).ConfigureAwait(false);
        var file = Path.Combine(container.BundleDir, "resources.json");
        try
        {
            if (container.State == ContainerState.Stopped)
            {
                throw AgentErrors.FailedPrecondition($"container {containerId} has stopped");
            }

            await File.WriteAllBytesAsync(file, resourcesJson.ToArray(), cancellationToken).ConfigureAwait(false);
            await _crun.UpdateAsync(containerId, file, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            File.Delete(file);
            container.Lifecycle.Release();
        }
    }

    /// <summary>
    /// Kills every process of the container, waits for the init to be reaped, deletes crun's
    /// state and the bundle. Not cancellable halfway: a half-removed container helps nobody.
    /// </summary>
    public Task RemoveAsync(string containerId, TimeSpan timeout) => RemoveAsync(containerId, timeout, vmEnds: false);

    /// <summary>
    /// At the VM's end: kills what still runs of every container and waits for the inits, app containers before
    /// the sandbox container. crun's state, the bundles and the cgroups are in the guest's memory and go with it,
    /// so there is no crun delete, which on a loaded host takes seconds of the deadline containerd gives the
    /// host's Delete.
    /// </summary>
    public async Task EndAllAsync(TimeSpan timeout)
    {
        foreach (var container in _registry.All.Where(c => c.State != ContainerState.Creating).OrderBy(c => c.IsSandbox))
        {
            try
            {
                await RemoveAsync(container.Id, timeout, vmEnds: true).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                LogRemoveFailed(_logger, container.Id, e.Message);
            }
        }
    }

    private async Task RemoveAsync(string containerId, TimeSpan timeout, bool vmEnds)
    {
        var container = _registry.Get(containerId);
        await container.Lifecycle.WaitAsync().ConfigureAwait(false);
        try
        {
            container.IsRemoving = true;
            var init = container.Init!;
            if (!init.HasExited)
            {
                if (container.State == ContainerState.Paused)
                {
                    // A frozen cgroup holds SIGKILL until thawed.
                    await TryAsync(() => _crun.ResumeAsync(containerId, CancellationToken.None)).ConfigureAwait(false);
                }

                await TryAsync(() => _crun.KillAsync(containerId, Linux.SIGKILL, all: true, CancellationToken.None)).ConfigureAwait(false);
                SystemCalls.Kill(init.Pid, Linux.SIGKILL);
                try
                {
                    await init.Exit.WaitAsync(timeout > TimeSpan.Zero ? timeout : DefaultRemoveTimeout).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    LogRemoveWaitTimedOut(_logger, containerId, init.Pid);
                }
            }

            if (!vmEnds)
            {
                await TryAsync(() => _crun.DeleteAsync(containerId, CancellationToken.None)).ConfigureAwait(false);
            }

            init.Io.Dispose();
            foreach (var exec in container.Execs.Values)
            {
                exec?.Io.Dispose();
            }

            if (!vmEnds)
            {
                DeleteBundle(container);
            }

            if (container.IsSandbox && !vmEnds)
            {
                try
                {
                    _podShm.Release();
                }
                catch (IOException e)
                {
                    LogIgnored(_logger, e.Message);
                }
            }

            container.MoveTo(ContainerState.Stopped);
            _registry.Remove(containerId);
            LogRemoved(_logger, containerId);
        }
        finally
        {
            container.Lifecycle.Release();
        }
    }

    private void OnInitExited(Container container, ProcessExit exit)
    {
        container.MoveTo(ContainerState.Stopped);
        LogInitExited(_logger, container.Id, exit.Pid, exit.ExitStatus);
        KillRemaining(container);
    }

    /// <summary>
    /// A container whose init is not PID 1 of a namespace of its own (it joined the pod's) keeps its other
    /// processes when the init dies; runc's shim kills them then, and so do we, through the cgroup: they would
    /// hold the container's stdout open and its cgroup busy. With a namespace of its own the kernel has already
    /// killed them, and this finds the cgroup empty.
    /// </summary>
    private void KillRemaining(Container container)
    {
        if (container.CgroupDir is not { } cgroup)
        {
            return;
        }

        try
        {
            File.WriteAllText(Path.Combine(cgroup, "cgroup.kill"), "1");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            LogIgnored(_logger, $"killing what remains of {container.Id}: {e.Message}");
        }
    }

    internal static int ReadPidFile(string path)
    {
        var text = File.Exists(path) ? File.ReadAllText(path, Encoding.ASCII).Trim() : string.Empty;
        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && pid > 0
            ? pid
            : throw new IOException($"crun wrote no valid pid to {path} ('{text}')");
    }

    private void DeleteBundle(Container container)
    {
        try
        {
            if (Directory.Exists(container.BundleDir))
            {
                Directory.Delete(container.BundleDir, recursive: true);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            LogBundleCleanupFailed(_logger, container.BundleDir, e.Message);
        }
    }

    private async Task TryAsync(Func<Task> action)
    {
        try
        {
            await action().ConfigureAwait(false);
        }
        catch (Exception e) when (e is CrunException or TimeoutException or IOException)
        {
            LogIgnored(_logger, e.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "container {ContainerId} created, init pid {Pid}, cgroup {Cgroup}")]
    private static partial void LogCreated(ILogger logger, string containerId, int pid, string cgroup);

    [LoggerMessage(Level = LogLevel.Warning, Message = "container {ContainerId} could not be created: {Reason}")]
    private static partial void LogCreateFailed(ILogger logger, string containerId, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "container {ContainerId}: init pid {Pid} exited with status {ExitStatus}")]
    private static partial void LogInitExited(ILogger logger, string containerId, int pid, int exitStatus);

    [LoggerMessage(Level = LogLevel.Information, Message = "container {ContainerId} removed")]
    private static partial void LogRemoved(ILogger logger, string containerId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "container {ContainerId}: init pid {Pid} still not reaped after SIGKILL; deleting anyway")]
    private static partial void LogRemoveWaitTimedOut(ILogger logger, string containerId, int pid);

    [LoggerMessage(Level = LogLevel.Warning, Message = "container {ContainerId} could not be removed: {Reason}")]
    private static partial void LogRemoveFailed(ILogger logger, string containerId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "could not delete bundle {Bundle}: {Reason}")]
    private static partial void LogBundleCleanupFailed(ILogger logger, string bundle, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "ignored during cleanup: {Reason}")]
    private static partial void LogIgnored(ILogger logger, string reason);
}

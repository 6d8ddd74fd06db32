using System.Collections.Concurrent;
using Google.Protobuf;
using Grpc.Core;
using KataSharp.Protocol.Agent.V1;
using KataSharp.Runtime.Agent;
using KataSharp.Runtime.Hypervisors;
using KataSharp.Runtime.Network;
using KataSharp.Runtime.Storage;
using Microsoft.Extensions.Logging;

namespace KataSharp.Runtime.Sandbox;

/// <summary>How long the phases of a sandbox start took, from the start of <see cref="SandboxManager.CreateAsync"/>.</summary>
public sealed record BootTimings(TimeSpan VmmReady, TimeSpan AgentReady, TimeSpan SandboxReady);

/// <summary>
/// One sandbox: a VM, its agent connection and its shared directory. A sandbox this process
/// created is destroyed on dispose unless <see cref="DetachAsync"/> kept it; one opened from
/// state.json (<see cref="SandboxManager.OpenAsync"/>) is only detached from.
/// </summary>
public sealed partial class Sandbox : IAsyncDisposable
{
    private static readonly TimeSpan DestroySandboxTimeout = TimeSpan.FromSeconds(5);

    private readonly ILogger _logger;
    private readonly SharedDirectory _shared;
    private readonly SandboxState _state;
    private readonly bool _owned;
    private readonly object _stateLock = new();
    private readonly ConcurrentDictionary<string, Container> _containers = new(StringComparer.Ordinal);
    private int _closed;

    internal Sandbox(SandboxPaths paths, SandboxState state, IHypervisor hypervisor, AgentConnection agent, SharedDirectory shared, ILogger logger, bool owned, BootTimings? timings)
    {
        Paths = paths;
        _state = state;
        Hypervisor = hypervisor;
        Agent = agent;
        _shared = shared;
        _logger = logger;
        _owned = owned;
        Timings = timings;
    }

    public string Id => _state.Id;
    public SandboxPaths Paths { get; }
    public IHypervisor Hypervisor { get; }
    public AgentConnection Agent { get; }

    /// <summary>Null for a sandbox opened from state.json.</summary>
    public BootTimings? Timings { get; }

    /// <summary>The network this process set up (null for a sandbox opened from state.json; its network.json still lists it).</summary>
    public SandboxNetworkAttachment? Network { get; init; }

    /// <summary>This process's ownership of the sandbox (null for one opened from state.json), released when it is destroyed or detached.</summary>
    internal SandboxOwnerLock? Owner { get; init; }

    /// <summary>How the share reaches the guest; destroying the sandbox stops its helper (virtiofsd). Null: nothing to stop.</summary>
    internal ISharedFilesystem? SharedFilesystem { get; init; }

    /// <summary>Completes when the VM exits; <see cref="HypervisorExit.Requested"/> is false for a crash.</summary>
    public Task<HypervisorExit> Exited => Hypervisor.Exited;

    /// <summary>A snapshot of state.json as this process knows it.</summary>
    public SandboxState State
    {
        get
        {
            lock (_stateLock)
            {
                return SandboxStateStore.Clone(_state);
            }
        }
    }

    /// <summary>
    /// Creates a container: bind-mounts its rootfs and bind volumes into the share, rewrites the
    /// spec's bind sources to share-relative paths, and asks the agent to create it. On failure
    /// (for example, InvalidArgument for a bad spec) its mounts are removed again.
    /// </summary>
    public async Task<Container> CreateContainerAsync(ContainerOptions options, CancellationToken cancellationToken)
    {
        SandboxPaths.ValidateId(options.Id, "container");
        using var scope = _logger.BeginScope(new Dictionary<string, object> { ["SandboxId"] = Id, ["ContainerId"] = options.Id });
        lock (_stateLock)
        {
            if (_state.Containers.Any(c => c.Id == options.Id))
            {
                throw new SandboxException(SandboxErrorCode.AlreadyExists, $"container {options.Id} already exists in sandbox {Id}");
            }

            _state.Containers.Add(new ContainerState { Id = options.Id, Rootfs = options.RootfsDirectory, Terminal = options.Terminal, Status = ContainerState.Creating, Command = Command(options) });
        }

        try
        {
            var spec = options.Spec.DeepClone().AsObject();
            string rootfs;
            try
            {
                rootfs = _shared.ShareRootfs(options.Id, options.RootfsDirectory);
                _shared.ShareSpecMounts(options.Id, spec);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new SandboxException(e is FileNotFoundException or DirectoryNotFoundException ? SandboxErrorCode.NotFound : SandboxErrorCode.Internal,
                    $"cannot share the files of container {options.Id}: {e.Message}", e);
            }

            var request = new CreateContainerRequest
            {
                ContainerId = options.Id,
                SpecJson = ByteString.CopyFromUtf8(spec.ToJsonString()),
                Rootfs = rootfs,
                Stdio = options.StdioOptions,
                SandboxContainer = options.SandboxContainer,
            };
            uint pid;
            try
            {
                pid = await Agent.CreateContainerAsync(request, cancellationToken).ConfigureAwait(false);
            }
            catch (RpcException e) when (e.StatusCode != StatusCode.Cancelled)
            {
                throw SandboxException.FromRpc($"creating container {options.Id}", e);
            }

            var container = new Container(this, options.Id, options.Terminal, pid);
            _containers[options.Id] = container;
            MoveContainer(options.Id, ContainerState.Created, from: [ContainerState.Creating], c => c.GuestPid = pid);
            LogContainerCreated(_logger, options.Id, pid);
            return container;
        }
        catch
        {
            lock (_stateLock)
            {
                _state.Containers.RemoveAll(c => c.Id == options.Id);
            }

            TryUnshare(options.Id);
            SaveState();
            throw;
        }
    }

    /// <summary>A container of this sandbox, including one created by another process (for exec).</summary>
    /// <exception cref="SandboxException">NotFound.</exception>
    public Container GetContainer(string containerId)
    {
        if (_containers.TryGetValue(containerId, out var container))
        {
            return container;
        }

        ContainerState state;
        lock (_stateLock)
        {
            state = _state.Containers.FirstOrDefault(c => c.Id == containerId)
                ?? throw new SandboxException(SandboxErrorCode.NotFound, $"sandbox {Id} has no container {containerId}");
        }

        return _containers.GetOrAdd(containerId, _ => new Container(this, containerId, state.Terminal, state.GuestPid));
    }

    internal async Task RemoveContainerAsync(string containerId, CancellationToken cancellationToken)
    {
        try
        {
            await Agent.RemoveContainerAsync(containerId, 0, cancellationToken).ConfigureAwait(false);
        }
        catch (RpcException e) when (e.StatusCode != StatusCode.Cancelled && e.StatusCode != StatusCode.NotFound)
        {
            throw SandboxException.FromRpc($"removing container {containerId}", e);
        }

        _containers.TryRemove(containerId, out _);
        lock (_stateLock)
        {
            _state.Containers.RemoveAll(c => c.Id == containerId);
        }

        TryUnshare(containerId);
        SaveState();
    }

    /// <summary>created → running, once the agent has started the init process. A container whose exit is already recorded stays stopped.</summary>
    internal void RecordContainerStarted(string containerId, uint guestPid) =>
        MoveContainer(containerId, ContainerState.Running, from: [ContainerState.Created], c => c.GuestPid = guestPid);

    /// <summary>Any state → stopped, once; a second report of the exit (a VM crash after a normal exit) changes nothing.</summary>
    internal void RecordContainerExited(string containerId, ProcessExitInfo exit) =>
        MoveContainer(containerId, ContainerState.Stopped, from: [ContainerState.Creating, ContainerState.Created, ContainerState.Running],
            c => { c.ExitCode = exit.ExitCode; c.ExitedAt = exit.ExitedAt; });

    /// <summary>
    /// Changes a container's recorded status if it is in one of <paramref name="from"/>, and writes state.json,
    /// all under the state lock: a status change and its write are one step, so an exit and a start that race
    /// can neither reorder their writes nor undo "stopped".
    /// </summary>
    private void MoveContainer(string containerId, string to, string[] from, Action<ContainerState> update)
    {
        lock (_stateLock)
        {
            if (_state.Containers.FirstOrDefault(c => c.Id == containerId) is { } container && from.Contains(container.Status))
            {
                container.Status = to;
                update(container);
                SaveState();
            }
        }
    }

    internal void SaveState()
    {
        lock (_stateLock)
        {
            if (Directory.Exists(Paths.Directory))
            {
                SandboxStateStore.Write(Paths.StateFile, _state);
            }
        }
    }

    /// <summary>
    /// Tears the sandbox down: DestroySandbox in the guest, QMP quit, SIGKILL if need be; then every
    /// bind mount is unmounted and the sandbox directory removed. Safe to call more than once.
    /// </summary>
    public async Task DestroyAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }

        using var scope = _logger.BeginScope(new Dictionary<string, object> { ["SandboxId"] = Id });
        if (Agent.IsConnected && !Hypervisor.Exited.IsCompleted)
        {
            try
            {
                await Agent.DestroySandboxAsync(Id, DestroySandboxTimeout, cancellationToken).ConfigureAwait(false);
            }
            catch (RpcException e)
            {
                LogDestroySandboxFailed(_logger, e.Status.Detail);
            }
        }

        await Agent.DisposeAsync().ConfigureAwait(false);
        try
        {
            // The guest state is thrown away, so there is nothing to wait for once the agent has cleaned up.
            await Hypervisor.StopAsync(TimeSpan.Zero, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            await Hypervisor.DisposeAsync().ConfigureAwait(false);
            if (SharedFilesystem is { } sharedFs)
            {
                await sharedFs.StopAsync(CancellationToken.None).ConfigureAwait(false);
                await sharedFs.DisposeAsync().ConfigureAwait(false);
            }

            // The taps, and a katasharp run sandbox's netns, veth and NAT rules, go before network.json does.
            if (await new SandboxNetworking(_logger).TryTeardownAsync(Paths.Directory, CancellationToken.None).ConfigureAwait(false))
            {
                SandboxManager.DeleteDirectory(Paths, _logger);
            }

            Owner?.Dispose();
            LogDestroyed(_logger, Id);
        }
    }

    /// <summary>Leaves the VM running (a kept sandbox) and closes this process's connections to it.</summary>
    public async Task DetachAsync()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }

        SaveState();
        // A kept sandbox has no owner: its running VM is what keeps gc away.
        Owner?.Dispose();
        await Agent.DisposeAsync().ConfigureAwait(false);
        await Hypervisor.DisposeAsync().ConfigureAwait(false);
        if (SharedFilesystem is { } sharedFs)
        {
            await sharedFs.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Destroys a sandbox this process created (unless detached); detaches from one it opened.</summary>
    public ValueTask DisposeAsync() => new(_owned ? DestroyAsync() : DetachAsync());

    private void TryUnshare(string containerId)
    {
        try
        {
            _shared.RemoveContainer(containerId);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            LogUnshareFailed(_logger, containerId, e.Message);
        }
    }

    private static string Command(ContainerOptions options) =>
        options.Spec["process"]?["args"] is System.Text.Json.Nodes.JsonArray args ? string.Join(' ', args.Select(a => a?.ToString())) : "";

    [LoggerMessage(Level = LogLevel.Information, Message = "container {ContainerId} created (guest pid {Pid})")]
    private static partial void LogContainerCreated(ILogger logger, string containerId, uint pid);

    [LoggerMessage(Level = LogLevel.Warning, Message = "DestroySandbox failed: {Reason}; stopping the VM anyway")]
    private static partial void LogDestroySandboxFailed(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "cannot unshare container {ContainerId}: {Reason}")]
    private static partial void LogUnshareFailed(ILogger logger, string containerId, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "sandbox {SandboxId} destroyed")]
    private static partial void LogDestroyed(ILogger logger, string sandboxId);
}

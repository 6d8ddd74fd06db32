using System.Diagnostics;
using Grpc.Core;
using KataSharp.Native;
using KataSharp.Protocol.Agent.V1;
using KataSharp.Protocol.Logging;
using KataSharp.Runtime.Agent;
using KataSharp.Runtime.Configuration;
using KataSharp.Runtime.Hypervisors;
using KataSharp.Runtime.Network;
using KataSharp.Runtime.Storage;
using Microsoft.Extensions.Logging;

namespace KataSharp.Runtime.Sandbox;

/// <summary>What a new sandbox should look like. Unset sizes come from the configuration.</summary>
public sealed record SandboxOptions
{
    /// <summary>Null: a random 12-hex-digit id.</summary>
    public string? Id { get; init; }

    /// <summary>Empty: the first 12 characters of the id.</summary>
    public string Hostname { get; init; } = "";

    public int? Vcpus { get; init; }
    public int? MemoryMiB { get; init; }

    /// <summary>The vCPUs to boot with, of which the guest brings <see cref="Vcpus"/> online until it is grown; null for no headroom.</summary>
    public int? VcpuCeiling { get; init; }

    /// <summary>The RAM to boot with, of which the guest gets <see cref="MemoryMiB"/> until it is grown; null for no headroom.</summary>
    public int? MemoryCeilingMiB { get; init; }

    /// <summary>Pod annotations; <c>io.katasharp.config.*</c> ones override the keys the configuration allows.</summary>
    public IReadOnlyDictionary<string, string> Annotations { get; init; } = new Dictionary<string, string>();

    public IReadOnlyList<string> DnsServers { get; init; } = [];
    public IReadOnlyList<string> DnsSearches { get; init; } = [];
    public IReadOnlyList<string> DnsOptions { get; init; } = [];

    /// <summary>The pod's network namespace to run QEMU in (null: this process's).</summary>
    public string? NetworkNamespacePath { get; init; }

    /// <summary>Tap devices in that namespace to give the guest, with the MAC addresses the guest NICs must have.</summary>
    public IReadOnlyList<NetworkInterfaceSpec> NetworkInterfaces { get; init; } = [];

    /// <summary>
    /// The sandbox's network, set up and torn down by the manager (Network/). Null: the endpoints of
    /// <see cref="NetworkNamespacePath"/> are mirrored into the VM when it is set and <see cref="NetworkInterfaces"/>
    /// is empty (a CNI pod), and there is no NIC otherwise.
    /// </summary>
    public SandboxNetworkRequest? Network { get; init; }

    /// <summary>Runs while the VM boots (e.g. unpacking the image); a failure aborts the sandbox.</summary>
    public Func<SandboxPaths, CancellationToken, Task>? WhileBooting { get; init; }
}

/// <summary>A sandbox found in the state directory.</summary>
public sealed record SandboxListing(string Id, SandboxPaths Paths, SandboxState? State, bool VmRunning);

/// <summary>
/// Creates, finds and removes sandboxes under <c>&lt;stateDir&gt;/sandboxes/</c>. Creation boots the VM,
/// waits for the agent and sets the sandbox up in the guest; any failure on the way tears down
/// everything it had done (VM, mounts, directory).
/// </summary>
public sealed partial class SandboxManager
{
    private readonly KataSharpConfig _config;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly IHostSystem _host;

    public SandboxManager(KataSharpConfig config, ILoggerFactory loggerFactory, IHostSystem? host = null)
    {
        _config = config;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger("KataSharp.Sandbox");
        _host = host ?? HostSystem.Instance;
    }

    public string SandboxesDirectory => SandboxPaths.SandboxesDirectory(_config.Runtime.StateDir);

    public SandboxPaths PathsFor(string sandboxId) => SandboxPaths.For(_config.Runtime.StateDir, sandboxId);

    public static string NewId() => Convert.ToHexStringLower(SecureRandom.GetBytes(6));

    /// <exception cref="SandboxException">InvalidArgument (bad id or configuration), AlreadyExists, Unavailable (the VM or agent did not come up).</exception>
    public async Task<Sandbox> CreateAsync(SandboxOptions options, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var id = options.Id ?? NewId();
        SandboxPaths.ValidateId(id);
        using var scope = _logger.BeginScope(new Dictionary<string, object> { ["SandboxId"] = id });

        KataSharpConfig config;
        try
        {
            config = ConfigAnnotations.Apply(_config, options.Annotations);
        }
        catch (ConfigException e)
        {
            throw new SandboxException(SandboxErrorCode.InvalidArgument, e.Message, e);
        }

        var paths = SandboxPaths.For(config.Runtime.StateDir, id);
        paths.ValidateSocketPaths();
        var driver = Driver(config, config.Hypervisor.Kind);
        var (spec, accelerator) = BuildVmSpec(config, driver, options, id, paths);

        var shared = new SharedDirectory(paths.Shared, paths.SharedMounts, _logger);
        var sharedFs = SharedFilesystems.Create(spec.SharedFs!, paths.VirtiofsdLog, StartTimeout(config), _loggerFactory.CreateLogger("KataSharp.SharedFs"));
        var state = new SandboxState
        {
            Id = id,
            CreatedAt = DateTimeOffset.UtcNow,
            Hypervisor = driver.Name,
            ControlSocket = spec.Files.ControlSocketPath,
            AgentChannelKind = spec.AgentChannel.Kind.ToString(),
            AgentSocket = spec.AgentChannel.SocketPath,
            AgentCid = spec.AgentChannel.Cid,
            AgentPort = spec.AgentChannel.Port,
            SharedFs = spec.SharedFs?.Type.ToString() ?? "",
            ConsoleLog = paths.ConsoleLog,
            Vcpus = spec.Vcpus,
            MemoryMiB = spec.MemoryMiB,
            Accelerator = accelerator.ToString(),
        };

        // Before the try: a create that loses the id to another must not clean up the winner's sandbox.
        // The owner lock comes before state.json, so that gc never takes a sandbox being created for a stale one.
        var owner = await TakeOwnershipAsync(config.Runtime.StateDir, paths, id, cancellationToken).ConfigureAwait(false);
        try
        {
            SandboxClaim.Claim(config.Runtime.StateDir, paths, state);
        }
        catch
        {
            owner.Dispose();
            throw;
        }

        var faults = new FaultInjection(config.Runtime.FailAfter);
        IHypervisor? hypervisor = null;
        var networking = new SandboxNetworking(_loggerFactory.CreateLogger("KataSharp.Network"));
        AgentConnection? agent = null;
        SandboxNetworkAttachment? network = null;
        Task? whileBooting = null;
        using var abort = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        try
        {
            shared.Create();
            faults.After(FaultPoint.Mounts);
            whileBooting = options.WhileBooting is { } prepare ? Task.Run(() => prepare(paths, abort.Token), abort.Token) : null;

            // The taps must exist before QEMU opens them (microvm cannot hot-add a NIC); joining them to the
            // pod's endpoints overlaps the boot, and the image unpacks meanwhile.
            network = await networking.BeginAttachAsync(NetworkRequest(options), id, paths.Directory, abort.Token).ConfigureAwait(false);
            if (network.NetnsPath is not null)
            {
                spec = spec with { NetworkNamespacePath = network.NetnsPath, NetworkInterfaces = network.Nics };
            }

            faults.After(FaultPoint.Taps);

            // The VMM connects to virtiofsd's socket as it starts; its pid is recorded first so that rm can stop it.
            await sharedFs.StartAsync(abort.Token).ConfigureAwait(false);
            state.SharedFsHelperPid = sharedFs.Helper?.Pid ?? 0;
            state.SharedFsHelperStartTime = sharedFs.Helper?.StartTime ?? 0;
            SandboxStateStore.Write(paths.StateFile, state);

            hypervisor = driver.Create(spec);
            await hypervisor.StartAsync(abort.Token).ConfigureAwait(false);
            var vmmReady = clock.Elapsed;
            state.Pid = hypervisor.Process!.Value.Pid;
            state.PidStartTime = hypervisor.Process.Value.StartTime;
            SandboxStateStore.Write(paths.StateFile, state);
            faults.After(FaultPoint.Vmm);

            var timeouts = Timeouts(config);
            agent = await AgentConnection.WaitForAgentAsync(spec.AgentChannel, timeouts, hypervisor.Exited, _logger, abort.Token).ConfigureAwait(false);
            var agentReady = clock.Elapsed;

            // Before CreateSandbox, as Kata's setupNetworks: the guest NICs take the pod endpoints' addresses and routes.
            await network.Completion.ConfigureAwait(false);
            await network.Guest.ApplyAsync(agent, abort.Token).ConfigureAwait(false);

            await agent.CreateSandboxAsync(new CreateSandboxRequest
            {
                SandboxId = id,
                Hostname = options.Hostname.Length > 0 ? options.Hostname : id[..Math.Min(12, id.Length)],
                Dns = new Dns { Servers = { options.DnsServers }, Searches = { options.DnsSearches }, Options = { options.DnsOptions } },
                SharedFs = new SharedFilesystem { Kind = sharedFs.GuestKind, Tag = sharedFs.Spec.Tag },
                HostTime = AgentConnection.Now(),
            }, abort.Token).ConfigureAwait(false);

            if (whileBooting is not null)
            {
                await whileBooting.ConfigureAwait(false);
            }

            var sandbox = new Sandbox(paths, state, hypervisor, agent, shared, _logger, owned: true, new BootTimings(vmmReady, agentReady, clock.Elapsed)) { Network = network, SharedFilesystem = sharedFs, Owner = owner };
            LogCreated(_logger, id, hypervisor.Pid ?? 0, (long)vmmReady.TotalMilliseconds, (long)agentReady.TotalMilliseconds, clock.ElapsedMilliseconds);
            return sandbox;
        }
        catch (Exception e)
        {
            await abort.CancelAsync().ConfigureAwait(false);
            if (whileBooting is not null)
            {
                await Task.WhenAny(whileBooting, Task.Delay(TimeSpan.FromSeconds(10), CancellationToken.None)).ConfigureAwait(false);
            }

            if (agent is not null)
            {
                await agent.DisposeAsync().ConfigureAwait(false);
            }

            if (hypervisor is not null)
            {
                await hypervisor.StopAsync(TimeSpan.Zero, CancellationToken.None).ConfigureAwait(false);
                await hypervisor.DisposeAsync().ConfigureAwait(false);
            }

            await sharedFs.StopAsync(CancellationToken.None).ConfigureAwait(false);
            await sharedFs.DisposeAsync().ConfigureAwait(false);
            if (network is not null)
            {
                // Its steps are in network.json only once it has stopped taking them (abort cancels it).
                await network.Completion.ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default).ConfigureAwait(false);
            }

            var console = LogTail.Read(paths.ConsoleLog, 15);
            if (await networking.TryTeardownAsync(paths.Directory, CancellationToken.None).ConfigureAwait(false))
            {
                DeleteDirectory(paths, _logger);
            }

            owner.Dispose();
            // The console goes into the log whatever the failure, a caller's cancellation included: that one's
            // error reaches nobody, and a boot that was slow or stuck is told apart only by what the guest printed.
            LogCreateFailed(_logger, id, e.Message, console.Length > 0 ? console : "(empty)");
            throw e switch
            {
                SandboxException or OperationCanceledException => e,
                Images.ImageException => new SandboxException(SandboxErrorCode.InvalidArgument, $"sandbox {id}: {e.Message}", e),
                HypervisorException => new SandboxException(SandboxErrorCode.Unavailable, $"sandbox {id}: the VM did not start: {e.Message}", e),
                SharedFilesystemException => new SandboxException(SandboxErrorCode.Unavailable, $"sandbox {id}: the shared filesystem did not start: {e.Message}", e),
                NetworkException failed => new SandboxException(NetworkErrorCode(failed.Kind), $"sandbox {id}: network: {e.Message}", e),
                AgentException => new SandboxException(SandboxErrorCode.Unavailable, $"sandbox {id}: {e.Message}" + (console.Length > 0 ? $"\nguest console (last lines):\n{console}" : ""), e),
                RpcException rpc => SandboxException.FromRpc($"sandbox {id}: setting up the guest", rpc),
                _ => new SandboxException(SandboxErrorCode.Internal, $"sandbox {id}: {e.Message}", e),
            };
        }
    }

    /// <summary>Opens a running sandbox created by another process (a kept <c>katasharp run</c>, or the shim) from its state.json.</summary>
    /// <exception cref="SandboxException">NotFound; FailedPrecondition when its VM is not running; Unavailable when the agent does not answer.</exception>
    public async Task<Sandbox> OpenAsync(string sandboxId, CancellationToken cancellationToken)
    {
        SandboxPaths.ValidateId(sandboxId);
        var paths = PathsFor(sandboxId);
        var state = SandboxStateStore.Read(paths.StateFile);
        var process = new ProcessIdentity(state.Pid, state.PidStartTime);
        if (state.Pid == 0 || !process.IsAlive)
        {
            throw new SandboxException(SandboxErrorCode.FailedPrecondition, $"the VM of sandbox {sandboxId} is not running (remove it with: katasharp rm {sandboxId})");
        }

        var hypervisor = Driver(_config, state).Attach(RunningVmFromState(state, paths, process));
        try
        {
            var agent = await AgentConnection.ConnectAsync(AgentChannelFromState(state), Timeouts(_config), _logger, cancellationToken).ConfigureAwait(false);
            return new Sandbox(paths, state, hypervisor, agent, new SharedDirectory(paths.Shared, paths.SharedMounts, _logger), _logger, owned: false, null)
            {
                SharedFilesystem = AttachSharedFilesystem(state, paths),
            };
        }
        catch (AgentException e)
        {
            await hypervisor.DisposeAsync().ConfigureAwait(false);
            throw new SandboxException(SandboxErrorCode.Unavailable, $"sandbox {sandboxId}: cannot reach its agent (is another katasharp process attached to it?): {e.Message}", e);
        }
        catch
        {
            await hypervisor.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Every sandbox directory, with its state when readable.</summary>
    public IReadOnlyList<SandboxListing> List()
    {
        if (!Directory.Exists(SandboxesDirectory))
        {
            return [];
        }

        return Directory.EnumerateDirectories(SandboxesDirectory).Order(StringComparer.Ordinal)
            .Select(directory => Describe(Path.GetFileName(directory)))
            .ToList();
    }

    /// <summary>One sandbox directory as it is now, with its state when readable.</summary>
    public SandboxListing Describe(string sandboxId)
    {
        var paths = PathsFor(sandboxId);
        SandboxState? state = null;
        try
        {
            state = SandboxStateStore.Read(paths.StateFile);
        }
        catch (SandboxException)
        {
            // A sandbox being created, or the remains of a crashed one: listed without state.
        }

        var running = state is { Pid: > 0 } && new ProcessIdentity(state.Pid, state.PidStartTime).IsAlive;
        return new SandboxListing(sandboxId, paths, state, running);
    }

    /// <summary>
    /// Removes a sandbox this process does not hold: stops its VM (SIGTERM, then SIGKILL), unmounts
    /// and deletes its directory. Without <paramref name="force"/>, a sandbox whose VM runs a
    /// container that has not exited is refused with FailedPrecondition.
    /// </summary>
    public async Task RemoveAsync(string sandboxId, bool force, CancellationToken cancellationToken)
    {
        SandboxPaths.ValidateId(sandboxId);
        var paths = PathsFor(sandboxId);
        if (!Directory.Exists(paths.Directory))
        {
            throw new SandboxException(SandboxErrorCode.NotFound, $"no such sandbox: {sandboxId}");
        }

        SandboxState? state = null;
        try
        {
            state = SandboxStateStore.Read(paths.StateFile);
        }
        catch (SandboxException)
        {
        }

        if (state is { Pid: > 0 } && new ProcessIdentity(state.Pid, state.PidStartTime) is { IsAlive: true } process)
        {
            if (!force && state.Containers.Any(c => c.Status != ContainerState.Stopped))
            {
                throw new SandboxException(SandboxErrorCode.FailedPrecondition, $"sandbox {sandboxId} is running a container; stop it first or use rm -f");
            }

            var hypervisor = Driver(_config, state).Attach(RunningVmFromState(state, paths, process));
            await hypervisor.StopAsync(TimeSpan.Zero, cancellationToken).ConfigureAwait(false);
            await hypervisor.DisposeAsync().ConfigureAwait(false);
        }

        // After the VMM, whose device it serves; a helper that outlived a crashed VMM goes too.
        if (state is not null && AttachSharedFilesystem(state, paths) is { } sharedFs)
        {
            await sharedFs.StopAsync(cancellationToken).ConfigureAwait(false);
            await sharedFs.DisposeAsync().ConfigureAwait(false);
        }

        try
        {
            // Before the directory goes: network.json in it is the list of what to take back.
            await new SandboxNetworking(_logger).TeardownAsync(paths.Directory, cancellationToken).ConfigureAwait(false);
        }
        catch (NetworkException e)
        {
            throw new SandboxException(SandboxErrorCode.Internal, $"sandbox {sandboxId}: {e.Message} (its directory is kept; rm again to retry)", e);
        }

        DeleteDirectory(paths, _logger);
        LogRemoved(_logger, sandboxId);
    }

    /// <exception cref="SandboxException">AlreadyExists when another process owns a sandbox of that id.</exception>
    private static async Task<SandboxOwnerLock> TakeOwnershipAsync(string stateDir, SandboxPaths paths, string id, CancellationToken cancellationToken)
    {
        SandboxClaim.CreateDirectory(stateDir, paths);
        return await SandboxOwnerLock.TryTakeAsync(paths.Directory, cancellationToken).ConfigureAwait(false)
            ?? throw new SandboxException(SandboxErrorCode.AlreadyExists, $"sandbox {id} already exists ({paths.Directory} is owned by another process)");
    }

    internal static void DeleteDirectory(SandboxPaths paths, ILogger logger)
    {
        try
        {
            MountedDirectory.UnmountAndDelete(paths.Directory, logger);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            LogDeleteFailed(logger, paths.Directory, e.Message);
        }
    }

    /// <summary>An explicit request, else a CNI pod's namespace when no taps were given, else no network.</summary>
    private static SandboxNetworkRequest NetworkRequest(SandboxOptions options) =>
        options.Network ?? (options.NetworkNamespacePath is { Length: > 0 } netns && options.NetworkInterfaces.Count == 0
            ? SandboxNetworkRequest.PodNamespace(netns)
            : SandboxNetworkRequest.None);

    private static SandboxErrorCode NetworkErrorCode(NetworkErrorKind kind) => kind switch
    {
        NetworkErrorKind.InvalidArgument => SandboxErrorCode.InvalidArgument,
        NetworkErrorKind.FailedPrecondition => SandboxErrorCode.FailedPrecondition,
        NetworkErrorKind.ResourceExhausted => SandboxErrorCode.ResourceExhausted,
        _ => SandboxErrorCode.Internal,
    };

    /// <exception cref="SandboxException">FailedPrecondition: no driver for that kind.</exception>
    private IHypervisorDriver Driver(KataSharpConfig config, HypervisorKind kind)
    {
        try
        {
            return HypervisorFactory.Create(config.Hypervisor with { Kind = kind }, _loggerFactory);
        }
        catch (HypervisorException e)
        {
            throw new SandboxException(SandboxErrorCode.FailedPrecondition, e.Message, e);
        }
    }

    /// <summary>The driver of the VMM a sandbox was started with, which need not be the one configured now.</summary>
    private IHypervisorDriver Driver(KataSharpConfig config, SandboxState state)
    {
        try
        {
            return Driver(config, HypervisorFactory.KindNamed(state.Hypervisor));
        }
        catch (HypervisorException e)
        {
            throw new SandboxException(SandboxErrorCode.FailedPrecondition, $"sandbox {state.Id}: {e.Message}", e);
        }
    }

    private (VmSpec Spec, Accelerator Accelerator) BuildVmSpec(KataSharpConfig config, IHypervisorDriver driver, SandboxOptions options, string id, SandboxPaths paths)
    {
        try
        {
            var accel = AcceleratorSelector.Choose(config.Hypervisor.Accel, _host);
            if (accel.Warning is { } warning)
            {
                LogAccelWarning(_logger, warning);
            }

            var channelKind = ChannelSelector.ChooseAgentChannel(config.Agent.Transport, driver, _host);
            var sharedFsType = ChannelSelector.ChooseSharedFs(config.SharedFs, _host);
            var channel = channelKind == AgentChannelKind.Vsock
                ? new AgentChannel(AgentChannelKind.Vsock, Cid: (uint)SecureRandom.GetInt32(3, int.MaxValue))
                : new AgentChannel(AgentChannelKind.Serial, paths.AgentSocket);
            var spec = new VmSpec
            {
                Name = $"katasharp-{id}",
                KernelPath = GuestAssets.ResolveKernel(config),
                Root = GuestAssets.ResolveRoot(config),
                Acpi = config.Guest.Kernel == GuestKernelKind.Debian,
                ExtraKernelParams = $"{config.Hypervisor.KernelParams} {AgentLogLevel.KernelParameter(config.Log.Level)}".Trim(),
                Accelerator = accel.Accelerator,
                Vcpus = options.Vcpus ?? config.Hypervisor.Vcpus,
                MemoryMiB = options.MemoryMiB ?? config.Hypervisor.MemoryMiB,
                MemoryCeilingMiB = options.MemoryCeilingMiB ?? 0,
                VcpuCeiling = options.VcpuCeiling ?? 0,
                ConsoleLogPath = paths.ConsoleLog,
                Files = paths.Vmm,
                AgentChannel = channel,
                SharedFs = new SharedFsSpec(sharedFsType, paths.Shared, SharedFsSpec.DefaultTag, config.SharedFs.VirtiofsdPath, paths.VirtiofsdSocket),
                NetworkInterfaces = options.NetworkInterfaces,
                NetworkNamespacePath = options.NetworkNamespacePath,
            };
            return (spec, accel.Accelerator);
        }
        catch (HypervisorException e)
        {
            throw new SandboxException(SandboxErrorCode.FailedPrecondition, e.Message, e);
        }
        catch (ConfigException e)
        {
            throw new SandboxException(SandboxErrorCode.InvalidArgument, e.Message, e);
        }
    }

    /// <summary>Enough of a running VM to watch and stop it. The socket is the one the VM was started with.</summary>
    private static RunningVm RunningVmFromState(SandboxState state, SandboxPaths paths, ProcessIdentity process) => new(
        process,
        paths.Vmm with { ControlSocketPath = state.ControlSocket.Length > 0 ? state.ControlSocket : paths.VmmSocket },
        state.ConsoleLog.Length > 0 ? state.ConsoleLog : paths.ConsoleLog);

    private static AgentChannel AgentChannelFromState(SandboxState state) =>
        new(Enum.TryParse<AgentChannelKind>(state.AgentChannelKind, out var kind) ? kind : AgentChannelKind.Serial,
            state.AgentSocket, state.AgentCid, state.AgentPort == 0 ? AgentChannel.DefaultPort : state.AgentPort);

    private ISharedFilesystem? AttachSharedFilesystem(SandboxState state, SandboxPaths paths) =>
        SharedFilesystems.Attach(new SharedFsSpec(Enum.TryParse<SharedFsType>(state.SharedFs, out var type) ? type : SharedFsType.NineP, paths.Shared),
            state.SharedFsHelperPid > 0 ? new ProcessIdentity(state.SharedFsHelperPid, state.SharedFsHelperStartTime) : null,
            _loggerFactory.CreateLogger("KataSharp.SharedFs"));

    private static TimeSpan StartTimeout(KataSharpConfig config) => TimeSpan.FromSeconds(Math.Min(config.Hypervisor.BootTimeoutSeconds, 30));

    private static AgentTimeouts Timeouts(KataSharpConfig config) => new(
        TimeSpan.FromSeconds(config.Agent.DialTimeoutSeconds),
        TimeSpan.FromSeconds(config.Agent.RequestTimeoutSeconds),
        TimeSpan.FromSeconds(config.Hypervisor.BootTimeoutSeconds));

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Warning}")]
    private static partial void LogAccelWarning(ILogger logger, string warning);

    [LoggerMessage(Level = LogLevel.Information, Message = "sandbox {SandboxId} ready: VMM pid {Pid}, VMM {VmmMs} ms, agent {AgentMs} ms, total {TotalMs} ms")]
    private static partial void LogCreated(ILogger logger, string sandboxId, int pid, long vmmMs, long agentMs, long totalMs);

    [LoggerMessage(Level = LogLevel.Error, Message = "sandbox {SandboxId} could not be created and was torn down: {Reason}; guest console (last lines):\n{Console}")]
    private static partial void LogCreateFailed(ILogger logger, string sandboxId, string reason, string console);

    [LoggerMessage(Level = LogLevel.Information, Message = "sandbox {SandboxId} removed")]
    private static partial void LogRemoved(ILogger logger, string sandboxId);

    [LoggerMessage(Level = LogLevel.Error, Message = "cannot delete {Directory}: {Reason}")]
    private static partial void LogDeleteFailed(ILogger logger, string directory, string reason);
}

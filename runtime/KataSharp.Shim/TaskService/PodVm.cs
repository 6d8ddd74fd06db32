using System.Text.Json.Nodes;
using KataSharp.Protocol;
using KataSharp.Protocol.Agent.V1;
using KataSharp.Protocol.Errors;
using KataSharp.Runtime.Configuration;
using KataSharp.Runtime.Hypervisors;
using KataSharp.Runtime.Sandbox;
using KataSharp.Shim.HostCgroup;
using KataSharp.Shim.Lifecycle;
using KataSharp.Shim.Logging;
using KataSharp.Shim.Telemetry;
using KataSharp.Shim.PortForward;
using Microsoft.Extensions.Logging;

namespace KataSharp.Shim.TaskService;

/// <summary>
/// The pod's micro-VM as the shim holds it: created by the pod's first container, sized from the
/// configuration plus the CRI sandbox resource annotations (or that container's own limits where there are
/// none), and the agent in it. The VM ends when its
/// VMM exits, or when its agent dies under a live VMM (the watchdog then kills the VMM): either way
/// every container of the pod is gone, and <see cref="Exited"/> says how.
/// </summary>
internal sealed partial class PodVm : IPodVm
{
    /// <summary>Enough for a whole panic: its reason line, the stack trace and the registers.</summary>
    private const int ConsoleTailLines = 80;
    private static readonly TimeSpan KillTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan VmmExitGrace = TimeSpan.FromSeconds(1);

    private readonly PodPortForwarder? _portForward;
    private readonly IJoinedPodCgroup? _hostCgroup;
    private readonly AgentWatchdog _watchdog;
    private readonly AgentLogRelay _agentLog;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _resizing = new(1, 1);

    private PodVm(Sandbox sandbox, VmSize size, PodPortForwarder? portForward, IJoinedPodCgroup? hostCgroup, AgentHealthPolicy health, ILogger logger)
    {
        Sandbox = sandbox;
        Size = size;
        _portForward = portForward;
        _hostCgroup = hostCgroup;
        _logger = logger;
        _watchdog = new AgentWatchdog(ProbeAsync, sandbox.Agent.Completion, health, logger);
        Agent = new PodAgent(sandbox.Agent);
        _agentLog = AgentLogRelay.Start(sandbox.Hypervisor.ConsoleLogPath, logger);
        Exited = WhenExitedAsync();
    }

    public Sandbox Sandbox { get; }

    public string Id => Sandbox.Id;

    public Task<string> Exited { get; }

    public IPodAgent Agent { get; }

    public VmSize Size { get; private set; }

    public PodMetricsSource Metrics => new(Sandbox.Paths.MonitorSocket, Sandbox.Hypervisor.Pid, Sandbox.Timings?.SandboxReady, Sandbox.Agent.GuestMemoryAsync);

    /// <summary>The task pid containerd and CRI see for every container: QEMU's, which lives in the pod's netns.</summary>
    public uint Pid => (uint)(Sandbox.Hypervisor.Pid ?? 0);

    /// <exception cref="KataSharpException">FailedPrecondition for host networking; the sandbox's own codes otherwise.</exception>
    public static async Task<PodVm> CreateAsync(string id, BundleSpec spec, KataSharpConfig config, ILoggerFactory loggerFactory, CancellationToken cancellationToken)
    {
        var networkNamespace = NetworkNamespacePath(spec.Spec);
        if (spec.Annotations.ContainsKey(BundleSpec.ContainerTypeAnnotation) && networkNamespace is null)
        {
            throw Errdefs.FailedPrecondition("host networking (hostNetwork: true) cannot be honoured inside a VM: the pod would share the node's network namespace, which a micro-VM cannot join; run this pod with another RuntimeClass");
        }

        var host = HostCapacity.Current;
        var (vcpus, memoryMiB) = VmSizing.Size(config.Hypervisor, spec.Annotations, host, (spec.Spec["linux"] as JsonObject)?["resources"] as JsonObject);
        var ceilingMiB = VmSizing.Ceiling(config.Hypervisor, memoryMiB, host);
        var vcpuCeiling = VmSizing.VcpuCeiling(config.Hypervisor, vcpus, host);
        var manager = new SandboxManager(config, loggerFactory);
        // Before anything is started: QEMU and its helpers are born in the pod's cgroup.
        var hostCgroup = await HostPodCgroup.JoinAsync(spec.CgroupsPath, loggerFactory.CreateLogger<PodVm>(), cancellationToken).ConfigureAwait(false);
        Sandbox sandbox;
        try
        {
            sandbox = await manager.CreateAsync(new SandboxOptions
            {
                Id = id,
                Hostname = Hostname(spec.Spec),
                Vcpus = vcpus,
                MemoryMiB = memoryMiB,
                MemoryCeilingMiB = ceilingMiB,
                VcpuCeiling = vcpuCeiling,
                Annotations = spec.Annotations,
                NetworkNamespacePath = networkNamespace is { Length: > 0 } ? networkNamespace : null,
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            await LeaveAsync(hostCgroup).ConfigureAwait(false);
            if (e is SandboxException failed)
            {
                throw failed.ToError();
            }

            throw;
        }

        PodPortForwarder? portForward = null;
        if (networkNamespace is { Length: > 0 })
        {
            try
            {
                portForward = await PodPortForwarding.TryStartAsync(networkNamespace, sandbox.Agent, loggerFactory, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                await sandbox.DestroyAsync().ConfigureAwait(false);
                await LeaveAsync(hostCgroup).ConfigureAwait(false);
                throw;
            }
        }

        return new PodVm(sandbox, new VmSize(vcpus, memoryMiB, ceilingMiB, config.Hypervisor.MemoryMiB, vcpuCeiling), portForward, hostCgroup, AgentHealthPolicy.Default, loggerFactory.CreateLogger("KataSharp.Shim.PodVm"));
    }

    /// <summary>Null when the spec has no network namespace at all (host networking); empty when it asks for a new one.</summary>
    internal static string? NetworkNamespacePath(JsonObject spec)
    {
        if ((spec["linux"] as JsonObject)?["namespaces"] is not JsonArray namespaces)
        {
            return null;
        }

        foreach (var ns in namespaces)
        {
            if (ns is JsonObject entry && StrictJson.Text(entry["type"]) == "network")
            {
                return StrictJson.Text(entry["path"]) ?? "";
            }
        }

        return null;
    }

    private static string Hostname(JsonObject spec) => spec["hostname"]?.GetValue<string>() ?? "";

    private async Task<bool> ProbeAsync(TimeSpan timeout, CancellationToken cancellationToken) =>
        (await Sandbox.Agent.Client.CheckAsync(new CheckRequest(), deadline: DateTime.UtcNow + timeout, cancellationToken: cancellationToken).ResponseAsync.ConfigureAwait(false))
            .Status == CheckResponse.Types.ServingStatus.Serving;

    /// <summary>The VMM's exit; a dead agent makes it, since a VMM without its agent serves nobody.</summary>
    private async Task<string> WhenExitedAsync()
    {
        string? agentDeath = null;
        if (await Task.WhenAny(Sandbox.Exited, _watchdog.Dead).ConfigureAwait(false) != Sandbox.Exited
            // A dying VMM drops the agent's connection too: its own exit, when it follows at once, is the truer account.
            && await Task.WhenAny(Sandbox.Exited, Task.Delay(VmmExitGrace)).ConfigureAwait(false) != Sandbox.Exited)
        {
            agentDeath = await _watchdog.Dead.ConfigureAwait(false);
            LogAgentDead(_logger, Id, agentDeath);
            try
            {
                using var timeout = new CancellationTokenSource(KillTimeout);
                await Sandbox.Hypervisor.StopAsync(TimeSpan.Zero, timeout.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or HypervisorException)
            {
                LogKillFailed(_logger, Id, e.Message);
            }
        }

        var exit = await Sandbox.Exited.ConfigureAwait(false);
        var how = agentDeath is null ? exit.ToString() : $"{agentDeath}; the VM was stopped ({exit})";
        if (!exit.Requested || agentDeath is not null)
        {
            // Why a guest died is in its console: a panic, an OOM of the guest kernel, the agent's last words.
            LogVmEnded(_logger, Id, how, LogTail.Read(Sandbox.Hypervisor.ConsoleLogPath, ConsoleTailLines));
        }

        return how;
    }

    public async Task<IGuestContainer> CreateContainerAsync(ContainerOptions options, CancellationToken cancellationToken) =>
        new GuestContainer(await SandboxCall.Run(() => Sandbox.CreateContainerAsync(options, cancellationToken)).ConfigureAwait(false));

    public async Task GrowMemoryAsync(int memoryMiB, CancellationToken cancellationToken)
    {
        await _resizing.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (memoryMiB <= Size.MemoryMiB)
            {
                return;
            }

            try
            {
                await Sandbox.Hypervisor.SetMemoryAsync(memoryMiB, cancellationToken).ConfigureAwait(false);
            }
            catch (HypervisorException e)
            {
                throw Errdefs.Unavailable($"sandbox {Id}: growing the VM from {Size.MemoryMiB} to {memoryMiB} MiB failed: {e.Message}");
            }

            LogGrown(_logger, Id, Size.MemoryMiB, memoryMiB);
            Size = Size with { MemoryMiB = memoryMiB };
        }
        finally
        {
            _resizing.Release();
        }
    }

    public async Task GrowVcpusAsync(int vcpus, CancellationToken cancellationToken)
    {
        await _resizing.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (vcpus <= Size.Vcpus)
            {
                return;
            }

            uint online;
            try
            {
                online = (await Sandbox.Agent.OnlineCpusAsync((uint)vcpus, cancellationToken).ConfigureAwait(false)).Online;
            }
            catch (KataSharpException e)
            {
                // The agent's own code stands: FailedPrecondition when the guest has fewer vCPUs than asked.
                throw new KataSharpException(e.Kind, $"sandbox {Id}: bringing the VM from {Size.Vcpus} to {vcpus} online vCPUs failed: {e.Message}");
            }

            LogVcpusOnline(_logger, Id, Size.Vcpus, (int)online);
            Size = Size with { Vcpus = (int)online };
        }
        finally
        {
            _resizing.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_portForward is not null)
        {
            await _portForward.DisposeAsync().ConfigureAwait(false);
        }

        // Destroying closes the agent connection, which must not read as the agent's death.
        await _watchdog.DisposeAsync().ConfigureAwait(false);
        await _agentLog.DisposeAsync().ConfigureAwait(false);
        await Sandbox.DestroyAsync().ConfigureAwait(false);
        await LeaveAsync(_hostCgroup).ConfigureAwait(false);
    }

    /// <summary>Once the VM is gone: the pod's cgroup can then be removed by whoever owns it.</summary>
    private static Task LeaveAsync(IJoinedPodCgroup? cgroup) => cgroup?.LeaveAsync() ?? Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information, Message = "sandbox {SandboxId}: the VM grew from {FromMiB} to {ToMiB} MiB (balloon deflated)")]
    private static partial void LogGrown(ILogger logger, string sandboxId, int fromMiB, int toMiB);

    [LoggerMessage(Level = LogLevel.Information, Message = "sandbox {SandboxId}: the VM grew from {From} to {To} online vCPUs")]
    private static partial void LogVcpusOnline(ILogger logger, string sandboxId, int from, int to);

    [LoggerMessage(Level = LogLevel.Error, Message = "sandbox {SandboxId}: {Reason}; stopping its VM, and its containers are reported exited")]
    private static partial void LogAgentDead(ILogger logger, string sandboxId, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "sandbox {SandboxId}: stopping the VM of a dead agent failed: {Reason}")]
    private static partial void LogKillFailed(ILogger logger, string sandboxId, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "sandbox {SandboxId}: the VM ended unexpectedly: {How}; guest console (last lines):\n{Console}")]
    private static partial void LogVmEnded(ILogger logger, string sandboxId, string how, string console);
}

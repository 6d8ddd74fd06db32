using System.Runtime.InteropServices;
using KataSharp.Agent.Channels;
using KataSharp.Agent.Containers;
using KataSharp.Agent.Cpus;
using KataSharp.Agent.Faults;
using KataSharp.Agent.Init;
using KataSharp.Native;
using KataSharp.Agent.Network;
using KataSharp.Agent.Processes;
using KataSharp.Agent.Sandbox;
using KataSharp.Agent.Service;
using KataSharp.Agent.Stats;
using KataSharp.Protocol.Ttrpc;
using Microsoft.Extensions.Logging;

namespace KataSharp.Agent;

/// <summary>The composition root: boot the guest (as PID 1), wire the components, serve every channel, shut down.</summary>
internal sealed partial class AgentHost
{
    private const string GuestHostname = "katasharp";
    private static readonly TimeSpan TearDownTimeout = TimeSpan.FromSeconds(20);

    private readonly AgentOptions _options;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _logger;

    public AgentHost(AgentOptions options, ILoggerFactory loggers)
    {
        _options = options;
        _loggers = loggers;
        _logger = loggers.CreateLogger<AgentHost>();
    }

    public async Task<int> RunAsync()
    {
        foreach (var warning in _options.Warnings)
        {
            LogWarning(_logger, warning);
        }

        var power = new PowerControl(_options.IsInit, _loggers.CreateLogger<PowerControl>());
        var modules = new ModuleLoader(_loggers.CreateLogger<ModuleLoader>());
        var mounts = new SystemMounts(_loggers.CreateLogger<SystemMounts>());
        if (_options.IsInit)
        {
            if (PivotableRoot.IsNeeded())
            {
                new PivotableRoot(_loggers.CreateLogger<PivotableRoot>()).Run();
            }

            mounts.MountForChannels();
            FdOps.EnsureStandardFdsOpen();

            // Before the channels: with Debian's kernel their drivers (virtio_console, vsock) are modules.
            modules.LoadBootList();
            // After the modules: with Debian's kernel, 9p and overlay are among them.
            new KernelRequirements(_loggers.CreateLogger<KernelRequirements>()).EnsureMet(KernelView.OfThisGuest());
        }

        // Orphaned container processes must reparent to us, not to PID 1 of a host.
        TryStep("become child subreaper", SystemCalls.BecomeChildSubreaper);
        var reaper = new ChildReaper(_loggers.CreateLogger<ChildReaper>());
        reaper.Start();
        var runner = new CommandRunner(reaper, _loggers.CreateLogger<CommandRunner>());

        var crunPath = _options.CrunPath ?? FirstExisting("/usr/bin/crun", "/bin/crun", "/usr/local/bin/crun", "/usr/sbin/crun") ?? "/usr/bin/crun";
        var busybox = FirstExisting("/bin/busybox", "/usr/bin/busybox") ?? "/bin/busybox";
        LogStarting(_logger, GuestInfo.AgentVersion, _options.IsInit ? "init" : "developer", PivotableRoot.DescribeRoot(), crunPath, busybox);
        var network = new NetworkConfigurator(runner, busybox, _loggers.CreateLogger<NetworkConfigurator>());

        // The host's first calls (Check, GetGuestDetails) need none of this, so the agent listens meanwhile;
        // every other RPC waits for it.
        var guestSetUp = Task.Run(() => SetUpGuestAsync(mounts, network));
        var registry = new ContainerRegistry();
        var crun = new Crun(runner, crunPath, _options.CrunRoot, _options.CrunCgroupManager);
        var sandboxState = new SandboxState(_options.SharedDirOverride ?? AgentOptions.DefaultSharedDir);
        var lifecycle = new ContainerLifecycle(registry, crun, reaper, sandboxState, new CgroupLocator(), _options,
            _loggers.CreateLogger<ContainerLifecycle>());
        var sandbox = new SandboxManager(sandboxState, lifecycle, modules, power, _options, _loggers.CreateLogger<SandboxManager>());
        var oom = new OomWatcher(registry, _loggers.CreateLogger<OomWatcher>());
        var service = new AgentService(sandbox, lifecycle,
            new ExecLauncher(registry, crun, reaper, _options, _loggers.CreateLogger<ExecLauncher>()),
            new ProcessControl(registry, crun), network, oom, new CpuHotplug(CpuHotplug.SysfsDirectory, CpuHotplug.RootCpusetEffective, mayWrite: _options.IsInit), guestSetUp,
            _loggers.CreateLogger<AgentService>());

        var services = new TtrpcServiceRegistry();
        var fault = GuestFault.FromEnvironment(Environment.GetEnvironmentVariable, _loggers.CreateLogger<GuestFault>());
        Protocol.Agent.V1.Agent.BindService(new FaultInjectingBinder(services, fault, id => registry.All.Any(c => c.Id == id && !c.IsSandbox)), service);
        var server = new TtrpcServer(services, _loggers.CreateLogger<TtrpcServer>());

        using var shutdown = new CancellationTokenSource();
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);

        var tasks = new List<Task> { oom.RunAsync(shutdown.Token) };
        if (_options.EnableSerial)
        {
            tasks.Add(new SerialChannel(server, _loggers.CreateLogger<SerialChannel>()).RunAsync(shutdown.Token));
        }

        if (_options.EnableVsock)
        {
            tasks.Add(new VsockChannel(server, _loggers.CreateLogger<VsockChannel>()).RunAsync(shutdown.Token));
        }

        if (_options.ListenUnix is { } path)
        {
            tasks.Add(new UnixSocketChannel(server, path, _loggers.CreateLogger<UnixSocketChannel>()).RunAsync(shutdown.Token));
        }

        LogReady(_logger);
        try
        {
            await Task.Delay(Timeout.Infinite, shutdown.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        LogShuttingDown(_logger);
        try
        {
            await sandbox.TearDownAsync().WaitAsync(TearDownTimeout).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            LogStepFailed(_logger, "tear down", e.Message);
        }

        if (_options.IsInit)
        {
            power.PowerOffNow();
        }

        return 0;

        void OnSignal(PosixSignalContext context)
        {
            // Handled here: the default action would kill the agent before it cleaned up.
            context.Cancel = true;
            LogSignal(_logger, context.Signal.ToString());
            shutdown.Cancel();
        }
    }

    /// <summary>The guest set-up containers need: mounts, cgroup controllers, hostname, loopback, the agent's directories. Never throws.</summary>
    private async Task SetUpGuestAsync(SystemMounts mounts, NetworkConfigurator network)
    {
        if (_options.IsInit)
        {
            mounts.MountForContainers();
            TryStep("set hostname", () => SystemCalls.SetHostName(GuestHostname));
        }

        TryStep("create the agent's directories", () =>
        {
            Directory.CreateDirectory(_options.ContainersDir);
            Directory.CreateDirectory(_options.CrunRoot);
        });
        if (_options.IsInit)
        {
            try
            {
                await network.BringUpLoopbackAsync(CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                LogStepFailed(_logger, "bring up lo", e.Message);
            }
        }

        LogGuestSetUp(_logger);
    }

    private void TryStep(string step, Action action)
    {
        try
        {
            action();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            LogStepFailed(_logger, step, e.Message);
        }
    }

    private static string? FirstExisting(params string[] paths) => paths.FirstOrDefault(File.Exists);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Warning}")]
    private static partial void LogWarning(ILogger logger, string warning);

    [LoggerMessage(Level = LogLevel.Error, Message = "{Step} failed: {Reason}")]
    private static partial void LogStepFailed(ILogger logger, string step, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "katasharp-agent {Version} ({Mode} mode), root {Root}, crun {Crun}, busybox {Busybox}")]
    private static partial void LogStarting(ILogger logger, string version, string mode, string root, string crun, string busybox);

    [LoggerMessage(Level = LogLevel.Information, Message = "guest set up for containers")]
    private static partial void LogGuestSetUp(ILogger logger);

    [LoggerMessage(Level = LogLevel.Information, Message = "ready")]
    private static partial void LogReady(ILogger logger);

    [LoggerMessage(Level = LogLevel.Information, Message = "received {Signal}")]
    private static partial void LogSignal(ILogger logger, string signal);

    [LoggerMessage(Level = LogLevel.Information, Message = "shutting down: removing containers")]
    private static partial void LogShuttingDown(ILogger logger);
}

using Grpc.Core;
using KataSharp.Agent;
using KataSharp.Agent.Containers;
using KataSharp.Agent.Init;
using KataSharp.Agent.Network;
using KataSharp.Agent.Processes;
using KataSharp.Agent.Sandbox;
using KataSharp.Agent.Service;
using KataSharp.Agent.Stats;
using KataSharp.Protocol.Agent.V1;
using KataSharp.Protocol.Ttrpc;
using KataSharp.Protocol.Ttrpc.Wire;
using Microsoft.Extensions.Logging.Abstractions;
using AgentApi = KataSharp.Protocol.Agent.V1.Agent;

namespace KataSharp.Tests.Unit.Fuzz;

/// <summary>
/// The real agent service (developer mode: nothing mounted, no hostname set, /etc in a temporary directory)
/// bound to the real ttrpc server, with <see cref="FakeCrun"/> at the crun boundary. Methods that would act on
/// the host running the tests (power off = exit in developer mode, ip commands) answer a stub instead.
/// </summary>
internal sealed class AgentWorld : IServerWorld
{
    public const string Service = "katasharp.agent.v1.Agent";

    /// <summary>Methods that are fuzzed: the rest would exit the test host or run `ip` on it. New methods are stubbed until listed.</summary>
    public static readonly IReadOnlySet<string> Fuzzed = new HashSet<string>(StringComparer.Ordinal)
    {
        "Check", "GetGuestDetails", "CreateSandbox", "CreateContainer", "StartContainer", "RemoveContainer", "PauseContainer",
        "ResumeContainer", "UpdateContainer", "StatsContainer", "ListProcesses", "ExecProcess", "SignalProcess", "WaitProcess",
        "WriteStdin", "CloseStdin", "ReadOutput", "ResizeTty", "UpdateInterface", "GetOomEvent",
    };

    /// <summary>Calls that legitimately wait for an event (an exit, an OOM kill) for as long as the caller lets them.</summary>
    private static readonly IReadOnlySet<string> LongPolls = new HashSet<string>(StringComparer.Ordinal) { "WaitProcess", "GetOomEvent" };

    private readonly string _dir = Directory.CreateTempSubdirectory("ks-fuzz-agent-").FullName;
    private readonly ContainerRegistry _containers = new();
    private readonly ContainerLifecycle _lifecycle;
    private readonly FakeCrun _crun;

    public AgentWorld()
    {
        var shared = Path.Combine(_dir, "shared");
        Directory.CreateDirectory(Path.Combine(shared, "rootfs"));
        Directory.CreateDirectory(Path.Combine(shared, "c1", "rootfs"));
        Directory.CreateDirectory(Path.Combine(_dir, "net"));
        var options = new AgentOptions
        {
            IsInit = false,
            SharedDirOverride = shared,
            RunDir = Path.Combine(_dir, "run"),
            CrunRoot = Path.Combine(_dir, "run", "crun"),
            EtcDir = Path.Combine(_dir, "etc"),
            EnableSerial = false,
            EnableVsock = false,
        };
        Directory.CreateDirectory(options.ContainersDir);
        Directory.CreateDirectory(options.ConsoleSocketsDir);

        // Never started: its thread would reap the test host's children. The fake crun reports exits through it.
        var reaper = new ChildReaper(NullLogger.Instance, _ => false);
        _crun = new FakeCrun(reaper);
        var state = new SandboxState(shared);
        _lifecycle = new ContainerLifecycle(_containers, _crun, reaper, state, new CgroupLocator(Path.Combine(_dir, "proc")), options,
            NullLogger<ContainerLifecycle>.Instance);
        var sandbox = new SandboxManager(state, _lifecycle, new ModuleLoader(NullLogger<ModuleLoader>.Instance, Path.Combine(_dir, "modules")),
            new PowerControl(false, NullLogger<PowerControl>.Instance), options, NullLogger<SandboxManager>.Instance);
        // An empty /sys/class/net: UpdateInterface finds no link before it would run a command.
        var network = new NetworkConfigurator(new CommandRunner(reaper, NullLogger<CommandRunner>.Instance), Path.Combine(_dir, "no-busybox"),
            NullLogger<NetworkConfigurator>.Instance, Path.Combine(_dir, "net"));
        var service = new AgentService(sandbox, _lifecycle, new ExecLauncher(_containers, _crun, reaper, options, NullLogger<ExecLauncher>.Instance),
            new ProcessControl(_containers, _crun), network, new OomWatcher(_containers, NullLogger<OomWatcher>.Instance),
            new KataSharp.Agent.Cpus.CpuHotplug(Path.Combine(_dir, "cpu"), Path.Combine(_dir, "cpuset.cpus.effective"), mayWrite: false), Task.CompletedTask,
            NullLogger<AgentService>.Instance);

        var registry = new TtrpcServiceRegistry();
        AgentApi.BindService(registry, service);
        foreach (var method in Methods.Where(m => !Fuzzed.Contains(m)))
        {
            registry.Add(Service, method, (_, _) => throw new RpcException(new Status(StatusCode.Unimplemented, $"{method} is not fuzzed: it acts on the host")));
        }

        Server = new TtrpcServer(registry, Log);
        Under = new TtrpcServerUnderFuzz(Server, Log, FuzzFrame.Call(0x7FFFFFFF, Service, "Check", new CheckRequest()),
            request => request.Service != Service || !LongPolls.Contains(request.Method));
    }

    public static IReadOnlyList<string> Methods { get; } = AgentApi.Descriptor.Methods.Select(m => m.Name).ToList();

    public RecordingLogger Log { get; } = new();

    public TtrpcServer Server { get; }

    public TtrpcServerUnderFuzz Under { get; }

    internal ContainerLifecycle Lifecycle => _lifecycle;

    internal ContainerRegistry Containers => _containers;

    internal FakeCrun Crun => _crun;

    /// <summary>Removes every container, then checks that nothing of them is left: no registry entry, crun state or bundle.</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var container in _containers.All.Where(c => c.State != ContainerState.Creating).OrderBy(c => c.IsSandbox))
        {
            await _lifecycle.RemoveAsync(container.Id, TimeSpan.FromSeconds(5));
        }

        var left = (_containers.All.Count, _crun.Count, Directory.GetFileSystemEntries(Path.Combine(_dir, "run", "containers")).Length);
        Directory.Delete(_dir, recursive: true);
        Assert.True(left == (0, 0, 0), $"removing every container left (registry, crun, bundles) = {left}");
    }
}

using Grpc.Core;
using KataSharp.Protocol.Cri.V1;

namespace KataSharp.Tests.EndToEnd.Behaviour;

/// <summary>
/// What a check's body works with: the CRI client and handler, pods and containers it starts (removed when the
/// check ends, pass or fail), exec helpers that look from inside a container, and a host scratch directory.
/// </summary>
public sealed class CheckContext : IAsyncDisposable
{
    private static readonly TimeSpan CallTimeout = ContainerdTestbed.CallTimeout;
    private readonly HandlerSession _session;
    private readonly BehaviourCheck _check;
    private readonly List<CriPod> _pods = [];
    private readonly List<string> _sharedPodContainers = [];
    private readonly Lazy<string> _scratch = new(() => Directory.CreateTempSubdirectory("ks-check").FullName);
    private int _names;

    public CheckContext(HandlerSession session, BehaviourCheck check)
    {
        _session = session;
        _check = check;
    }

    public CriClient Cri => _session.Cri;

    /// <summary>The runtime handler the pods run under. Bodies must not branch on it.</summary>
    public string Handler => _session.Handler;

    public ContainerdFixture Containerd => _session.Containerd;

    /// <summary>A host directory of this check's own (volumes, seccomp profiles), deleted when the check ends.</summary>
    public string Scratch => _scratch.Value;

    private static DateTime Deadline => DateTime.UtcNow + CallTimeout;

    /// <summary>The handler's shared pod (see <see cref="HandlerSession"/>).</summary>
    public Task<CriPod> SharedPodAsync() => _session.SharedPodAsync();

    /// <summary>The shared pod's default container: for checks that need nothing but a running container.</summary>
    public Task<string> DefaultContainerAsync() => _session.DefaultContainerAsync();

    /// <summary>A pod of this check's own, for pod-level settings; removed when the check ends.</summary>
    public async Task<CriPod> RunPodAsync(Action<PodSandboxConfig>? configure = null)
    {
        var pod = await CriPod.RunAsync(Cri, NextName(), Handler, configure);
        _pods.Add(pod);
        return pod;
    }

    /// <summary>A container config with a name unique in its pod and an empty Linux security context to fill in.</summary>
    public ContainerConfig NewContainer(params string[] command)
    {
        var config = CriTests.ContainerConfig(NextName(), command.Length > 0 ? command : ["sleep", "1000000"]);
        config.Linux = new LinuxContainerConfig { SecurityContext = new LinuxContainerSecurityContext() };
        return config;
    }

    /// <summary>Creates and starts <paramref name="config"/> in <paramref name="pod"/>, the shared pod by default.</summary>
    public async Task<string> StartContainerAsync(ContainerConfig config, CriPod? pod = null)
    {
        var target = pod ?? await SharedPodAsync();
        var id = (await Cri.Runtime.CreateContainerAsync(
            new CreateContainerRequest { PodSandboxId = target.Id, Config = config, SandboxConfig = target.Config }, deadline: Deadline)).ContainerId;
        if (pod is null)
        {
            _sharedPodContainers.Add(id);
        }

        await Cri.Runtime.StartContainerAsync(new StartContainerRequest { ContainerId = id }, deadline: Deadline);
        return id;
    }

    /// <summary>Starts a sleeping container shaped by <paramref name="configure"/> (see <see cref="NewContainer"/>).</summary>
    public Task<string> StartContainerAsync(Action<ContainerConfig> configure, CriPod? pod = null)
    {
        var config = NewContainer();
        configure(config);
        return StartContainerAsync(config, pod);
    }

    public Task<ExecSyncResponse> ExecAsync(string containerId, params string[] cmd) => CriTests.ExecSyncAsync(Cri, containerId, cmd);

    /// <summary>Runs <paramref name="script"/> with sh in the container; it must exit 0. Returns its stdout.</summary>
    public async Task<string> ShAsync(string containerId, string script)
    {
        var result = await ExecAsync(containerId, "sh", "-c", script);
        if (result.ExitCode != 0)
        {
            throw new CheckFailedException($"`{script}` exited {result.ExitCode}: {result.Stderr.ToStringUtf8().Trim()}");
        }

        return result.Stdout.ToStringUtf8();
    }

    public Task<ContainerStatus> WaitForExitAsync(string containerId) => CriTests.WaitForExitAsync(Cri, containerId);

    /// <summary>Removes what the check started: its containers in the shared pod, then its own pods.</summary>
    public async ValueTask DisposeAsync()
    {
        var errors = new List<Exception>();
        foreach (var id in _sharedPodContainers)
        {
            try
            {
                await Cri.Runtime.StopContainerAsync(new StopContainerRequest { ContainerId = id, Timeout = 0 }, deadline: Deadline);
                await Cri.Runtime.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = id }, deadline: Deadline);
            }
            catch (RpcException e) when (e.StatusCode != StatusCode.NotFound)
            {
                errors.Add(e);
            }
            catch (RpcException)
            {
            }
        }

        foreach (var pod in _pods)
        {
            try
            {
                await pod.DisposeAsync();
            }
            catch (RpcException e)
            {
                errors.Add(e);
            }
        }

        if (_scratch.IsValueCreated)
        {
            Directory.Delete(_scratch.Value, recursive: true);
        }

        if (errors.Count > 0)
        {
            throw new AggregateException($"cleaning up after {_check.Name}", errors);
        }
    }

    private string NextName() => $"{_check.Leaf}-{++_names}";
}

/// <summary>A check saw behaviour that differs from what it expects.</summary>
public sealed class CheckFailedException(string message) : Exception(message);

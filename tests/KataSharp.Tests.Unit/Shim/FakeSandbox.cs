using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using KataSharp.Protocol.Containerd.Task.V2;
using KataSharp.Runtime.Sandbox;
using KataSharp.Shim.Lifecycle;
using KataSharp.Shim.TaskService;
using Microsoft.Extensions.Logging.Abstractions;
using Moq;
using Task = System.Threading.Tasks.Task;

namespace KataSharp.Tests.Unit.Shim;

/// <summary>
/// The Task service over a faked sandbox seam: a VM whose containers and processes are Moq fakes, each
/// process's exit in the test's hands, and the events the service published recorded in order.
/// </summary>
internal sealed class FakeSandbox : IAsyncDisposable
{
    public const uint VmPid = 4242;

    private readonly string _dir = Directory.CreateTempSubdirectory("ks-shim-").FullName;
    private readonly ConcurrentDictionary<(string, string), TaskCompletionSource<ProcessExitInfo>> _exits = new();
    private readonly ConcurrentDictionary<string, Mock<IGuestContainer>> _guests = new(StringComparer.Ordinal);

    public FakeSandbox(TimeProvider? time = null)
    {
        Vm.SetupGet(v => v.Id).Returns("pod");
        Vm.SetupGet(v => v.Pid).Returns(VmPid);
        Vm.SetupGet(v => v.Size).Returns(new VmSize(1, 512));
        Vm.SetupGet(v => v.Exited).Returns(VmExited.Task);
        Vm.Setup(v => v.DisposeAsync()).Returns(() =>
        {
            VmExited.TrySetResult("destroyed");
            return ValueTask.CompletedTask;
        });
        Vm.SetupGet(v => v.Agent).Returns(Agent.Object);
        Agent.Setup(a => a.NextOomAsync(It.IsAny<CancellationToken>())).Returns((CancellationToken ct) => Oom.Reader.ReadAsync(ct).AsTask());
        Vm.Setup(v => v.CreateContainerAsync(It.IsAny<ContainerOptions>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync((ContainerOptions options, CancellationToken _) => NewContainer(options.Id));
        Factory.Setup(f => f.CreateAsync(It.IsAny<string>(), It.IsAny<string>(), It.IsAny<BundleSpec>(), It.IsAny<string?>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync(() => Vm.Object);
        Service = new TaskService(Events, Factory.Object, NullLogger.Instance, time);
    }

    public Mock<IPodVmFactory> Factory { get; } = new(MockBehavior.Strict);

    public Mock<IPodVm> Vm { get; } = new();

    public Mock<IPodAgent> Agent { get; } = new();

    public TaskCompletionSource<string> VmExited { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>What the fake agent reports as OOM kills, by container id.</summary>
    public Channel<string> Oom { get; } = Channel.CreateUnbounded<string>();

    public RecordingEvents Events { get; } = new();

    public TaskService Service { get; }

    public TestCallContext Context { get; } = new();

    /// <summary>The CRI annotations of a container in the sandbox "pod", whose VM it then shares.</summary>
    public static JsonObject InPod() => new()
    {
        [BundleSpec.ContainerTypeAnnotation] = "container",
        [BundleSpec.SandboxIdAnnotation] = "pod",
    };

    /// <summary>The guest side of a container the service created, to verify what the service asked of it.</summary>
    public Mock<IGuestContainer> Guest(string containerId) => _guests[containerId];

    /// <summary>Makes the guest process exit, as the agent's WaitProcess would report it.</summary>
    public void Exit(string containerId, string execId, int code, bool oomKilled = false, DateTimeOffset? exitedAt = null) =>
        ExitOf(containerId, execId).TrySetResult(new ProcessExitInfo(code, exitedAt ?? DateTimeOffset.UtcNow, oomKilled));

    /// <summary>Makes the agent's WaitProcess for the process fail, as a broken connection or a lost process would.</summary>
    public void FailWait(string containerId, string execId, Exception error) => ExitOf(containerId, execId).TrySetException(error);

    public async Task CreateAsync(string id, JsonObject? annotations = null, JsonObject? resources = null)
    {
        var bundle = Path.Combine(_dir, id);
        Directory.CreateDirectory(bundle);
        var spec = new JsonObject
        {
            ["ociVersion"] = "1.0.2",
            ["process"] = new JsonObject { ["args"] = new JsonArray("sh") },
            ["linux"] = JsonNode.Parse("""{"namespaces":[{"type":"pid"},{"type":"ipc"},{"type":"mount"}]}"""),
        };
        if (annotations is not null)
        {
            spec["annotations"] = annotations;
        }

        if (resources is not null)
        {
            spec["linux"] ??= new JsonObject();
            spec["linux"]!["resources"] = resources;
        }

        await File.WriteAllTextAsync(Path.Combine(bundle, "config.json"), spec.ToJsonString());
        await Service.Create(new CreateTaskRequest { Id = id, Bundle = bundle }, Context);
    }

    public Task StartAsync(string id, string execId = "") => Service.Start(new StartRequest { Id = id, ExecId = execId }, Context);

    public Task ExecAsync(string id, string execId) => Service.Exec(new ExecProcessRequest
    {
        Id = id,
        ExecId = execId,
        Spec = new Google.Protobuf.WellKnownTypes.Any { TypeUrl = "types.containerd.io/opencontainers/runtime-spec/1/Process", Value = Google.Protobuf.ByteString.CopyFromUtf8("""{"args":["true"]}""") },
    }, Context);

    public Task KillAsync(string id, string execId = "") => Service.Kill(new KillRequest { Id = id, ExecId = execId, Signal = 9 }, Context);

    public Task<DeleteResponse> DeleteAsync(string id, string execId = "") => Service.Delete(new DeleteRequest { Id = id, ExecId = execId }, Context);

    public Task<WaitResponse> WaitAsync(string id, string execId = "") => Service.Wait(new WaitRequest { Id = id, ExecId = execId }, Context);

    private TaskCompletionSource<ProcessExitInfo> ExitOf(string containerId, string execId) =>
        _exits.GetOrAdd((containerId, execId), _ => new TaskCompletionSource<ProcessExitInfo>(TaskCreationOptions.RunContinuationsAsynchronously));

    private IGuestContainer NewContainer(string id)
    {
        var container = _guests[id] = new Mock<IGuestContainer>();
        container.SetupGet(c => c.Init).Returns(NewProcess(id, ""));
        container.Setup(c => c.ExecAsync(It.IsAny<string>(), It.IsAny<JsonObject>(), It.IsAny<bool>(), It.IsAny<bool>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync((string execId, JsonObject _, bool _, bool _, CancellationToken _) => NewProcess(id, execId));
        return container.Object;
    }

    private IGuestProcess NewProcess(string containerId, string execId)
    {
        var process = new Mock<IGuestProcess>();
        process.SetupGet(p => p.ContainerId).Returns(containerId);
        process.SetupGet(p => p.ExecId).Returns(execId);
        process.Setup(p => p.WaitAsync(It.IsAny<CancellationToken>())).Returns(() => ExitOf(containerId, execId).Task);
        return process.Object;
    }

    public async ValueTask DisposeAsync()
    {
        await Service.DisposeAllAsync();
        Directory.Delete(_dir, recursive: true);
    }
}

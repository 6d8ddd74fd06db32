using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Google.Protobuf;
using StatsContainerResponse = KataSharp.Protocol.Agent.V1.StatsContainerResponse;
using KataSharp.Protocol.Containerd.Task.V2;
using KataSharp.Protocol.Ttrpc;
using KataSharp.Runtime.Sandbox;
using KataSharp.Shim.Lifecycle;
using KataSharp.Shim.TaskService;
using KataSharp.Tests.Unit.Shim;
using Microsoft.Extensions.Logging.Abstractions;
using Moq;
using ShimTaskService = KataSharp.Shim.TaskService.TaskService;
using Task = System.Threading.Tasks.Task;
using TaskApi = KataSharp.Protocol.Containerd.Task.V2.Task;

namespace KataSharp.Tests.Unit.Fuzz;

/// <summary>
/// The shim as containerd's ttrpc server: the real Task service (v2 and its v3 alias) over a faked VM whose
/// processes exit when signalled. Create and Exec name host paths (bundle, rootfs mounts, stdio FIFOs); those
/// are pointed into a temporary directory before the real handler runs, so a fuzzed path never reaches a host file.
/// </summary>
internal sealed class ShimWorld : IServerWorld
{
    public const string Service = "containerd.task.v2.Task";
    public const string ServiceV3 = "containerd.task.v3.Task";

    /// <summary>Wait legitimately lasts until the process exits.</summary>
    private static readonly IReadOnlySet<string> LongPolls = new HashSet<string>(StringComparer.Ordinal) { "Wait" };

    private static readonly string[] Bundles = ["sandbox", "cri-sandbox", "cri-container", "hostile", "invalid", "no-config"];
    private static readonly string[] StdioFiles = ["stdout", "stderr", "stdin", "missing"];

    private readonly string _dir = Directory.CreateTempSubdirectory("ks-fuzz-shim-").FullName;
    private readonly ShimTaskService _service;

    public ShimWorld()
    {
        var corpus = Path.Combine(AppContext.BaseDirectory, "corpus", "oci-spec");
        foreach (var (bundle, spec) in new[] { ("sandbox", "ctr-run"), ("cri-sandbox", "cri-sandbox"), ("cri-container", "cri-container"), ("hostile", "hostile-spec") })
        {
            Directory.CreateDirectory(Path.Combine(_dir, bundle));
            File.Copy(Path.Combine(corpus, spec + ".json"), Path.Combine(_dir, bundle, "config.json"));
        }

        Directory.CreateDirectory(Path.Combine(_dir, "invalid"));
        File.WriteAllText(Path.Combine(_dir, "invalid", "config.json"), "{\"ociVersion\":");
        Directory.CreateDirectory(Path.Combine(_dir, "no-config"));
        Directory.CreateDirectory(Path.Combine(_dir, "io"));
        foreach (var file in StdioFiles.SkipLast(1))
        {
            File.WriteAllText(Path.Combine(_dir, "io", file), "input\n");
        }

        var factory = new Mock<IPodVmFactory>(MockBehavior.Strict);
        factory.Setup(f => f.CreateAsync(It.IsAny<string>(), It.IsAny<string>(), It.IsAny<BundleSpec>(), It.IsAny<string?>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync((string id, string _, BundleSpec _, string? _, CancellationToken _) => NewVm(id));
        _service = new ShimTaskService(new RecordingEvents(), factory.Object, NullLogger.Instance);

        var registry = new TtrpcServiceRegistry();
        TaskApi.BindService(registry, _service);
        registry.Add(Service, "Create", async (payload, context) =>
        {
            var request = CreateTaskRequest.Parser.ParseFrom(payload);
            request.Bundle = request.Bundle.Length == 0 ? string.Empty : Path.Combine(_dir, Pick(Bundles, request.Bundle));
            request.Rootfs.Clear();
            (request.Stdin, request.Stdout, request.Stderr) = (Stdio(request.Stdin), Stdio(request.Stdout), Stdio(request.Stderr));
            return (await _service.Create(request, context)).ToByteArray();
        });
        registry.Add(Service, "Exec", async (payload, context) =>
        {
            var request = ExecProcessRequest.Parser.ParseFrom(payload);
            (request.Stdin, request.Stdout, request.Stderr) = (Stdio(request.Stdin), Stdio(request.Stdout), Stdio(request.Stderr));
            return (await _service.Exec(request, context)).ToByteArray();
        });
        registry.AddAlias(ServiceV3, Service);

        Server = new TtrpcServer(registry, Log);
        Under = new TtrpcServerUnderFuzz(Server, Log, FuzzFrame.Call(0x7FFFFFFF, Service, "Connect", new ConnectRequest { Id = "probe" }),
            request => !LongPolls.Contains(request.Method));
    }

    public RecordingLogger Log { get; } = new();

    public TtrpcServer Server { get; }

    public TtrpcServerUnderFuzz Under { get; }

    /// <summary>Tears the pod down as the daemon does at exit, then checks that no container or VM is left.</summary>
    public async ValueTask DisposeAsync()
    {
        await _service.DisposeAllAsync();
        var left = (_service.Pod.IsEmpty, _service.Pod.Vm is null);
        Directory.Delete(_dir, recursive: true);
        Assert.True(left == (true, true), $"after the daemon's teardown (no containers, no VM) = {left}");
    }

    /// <summary>A stdio path kept as containerd would send it (scheme and all) but naming a file of ours.</summary>
    private string Stdio(string uri)
    {
        if (uri.Length == 0)
        {
            return uri;
        }

        var scheme = uri.IndexOf("://", StringComparison.Ordinal) is var at and >= 0 ? uri[..(at + 3)] : string.Empty;
        return scheme + Path.Combine(_dir, "io", Pick(StdioFiles, uri));
    }

    /// <summary>A stable choice by the text (string.GetHashCode differs between runs, which would break the smoke's determinism).</summary>
    private static string Pick(string[] names, string text)
    {
        if (names.Contains(text, StringComparer.Ordinal))
        {
            return text;
        }

        var hash = 2166136261u;
        foreach (var c in text)
        {
            hash = (hash ^ c) * 16777619u;
        }

        return names[hash % names.Length];
    }

    private static IPodVm NewVm(string id)
    {
        var exited = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var agent = new Mock<IPodAgent>();
        agent.Setup(a => a.NextOomAsync(It.IsAny<CancellationToken>()))
            .Returns(async (CancellationToken ct) =>
            {
                await Task.Delay(Timeout.Infinite, ct);
                return string.Empty;
            });
        agent.Setup(a => a.StatsAsync(It.IsAny<string>(), It.IsAny<CancellationToken>())).ReturnsAsync(new StatsContainerResponse());
        agent.Setup(a => a.ListProcessesAsync(It.IsAny<string>(), It.IsAny<CancellationToken>())).ReturnsAsync(Array.Empty<KataSharp.Protocol.Agent.V1.ProcessInfo>());
        var vm = new Mock<IPodVm>();
        vm.SetupGet(v => v.Id).Returns(id);
        vm.SetupGet(v => v.Pid).Returns(4242u);
        vm.SetupGet(v => v.Size).Returns(new VmSize(2, 2048));
        vm.SetupGet(v => v.Exited).Returns(exited.Task);
        vm.SetupGet(v => v.Agent).Returns(agent.Object);
        vm.Setup(v => v.DisposeAsync()).Returns(() =>
        {
            exited.TrySetResult("destroyed");
            return ValueTask.CompletedTask;
        });
        vm.Setup(v => v.CreateContainerAsync(It.IsAny<ContainerOptions>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync((ContainerOptions options, CancellationToken _) => NewContainer(options.Id));
        return vm.Object;
    }

    private static IGuestContainer NewContainer(string id)
    {
        var container = new Mock<IGuestContainer>();
        container.SetupGet(c => c.Init).Returns(NewProcess(id, string.Empty));
        container.Setup(c => c.ExecAsync(It.IsAny<string>(), It.IsAny<JsonObject>(), It.IsAny<bool>(), It.IsAny<bool>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync((string execId, JsonObject _, bool _, bool _, CancellationToken _) => NewProcess(id, execId));
        return container.Object;
    }

    /// <summary>A guest process that exits when SIGKILL or SIGTERM reaches it, as the agent would report.</summary>
    private static IGuestProcess NewProcess(string containerId, string execId)
    {
        var exit = new TaskCompletionSource<ProcessExitInfo>(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = new Mock<IGuestProcess>();
        process.SetupGet(p => p.ContainerId).Returns(containerId);
        process.SetupGet(p => p.ExecId).Returns(execId);
        process.Setup(p => p.WaitAsync(It.IsAny<CancellationToken>())).Returns((CancellationToken ct) => exit.Task.WaitAsync(ct));
        process.Setup(p => p.SignalAsync(It.IsAny<int>(), It.IsAny<bool>(), It.IsAny<CancellationToken>()))
            .Returns((int signal, bool _, CancellationToken _) =>
            {
                if (signal is 9 or 15)
                {
                    exit.TrySetResult(new ProcessExitInfo(128 + signal, DateTimeOffset.UtcNow, false));
                }

                return Task.CompletedTask;
            });
        return process.Object;
    }
}

using System.IO.Pipelines;
using System.Text;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Grpc.Core;
using KataSharp.Agent.Containers;
using KataSharp.Protocol.Agent.V1;
using KataSharp.Protocol.Errors;
using KataSharp.Protocol.Ttrpc;
using KataSharp.Protocol.Ttrpc.Wire;
using KataSharp.Shim.Lifecycle;
using KataSharp.Shim.TaskService;
using CreateTaskRequest = KataSharp.Protocol.Containerd.Task.V2.CreateTaskRequest;
using DeleteRequest = KataSharp.Protocol.Containerd.Task.V2.DeleteRequest;
using Microsoft.Extensions.Logging.Abstractions;
using Moq;

namespace KataSharp.Tests.Unit.Fuzz;

/// <summary>Each input the fuzzers found that crashed or hung a handler, minimized, with the answer it must get now.</summary>
[Collection(FuzzCollection.Name)]
public sealed class FuzzFindingTests
{
    private const string Agent = AgentWorld.Service;

    /// <summary>
    /// ttrpc-agent/agent-rpc: a timeout_nano past CancellationTokenSource's ~49-day timer limit threw before the
    /// handler ran, so the call was never answered.
    /// </summary>
    [Fact]
    public async Task Ttrpc_TimeoutBeyondTheTimerLimit_IsAnsweredAsIfNoDeadline()
    {
        await using var world = new AgentWorld();
        var response = await AnswerAsync(world.Server, FuzzFrame.Call(1, Agent, "Check", new CheckRequest(), timeoutNano: 100_000_000_000_000_000));

        Assert.Equal((int)StatusCode.OK, response.Status?.Code ?? 0);
        Assert.Equal(CheckResponse.Types.ServingStatus.Serving, CheckResponse.Parser.ParseFrom(response.Payload).Status);
    }

    /// <summary>ttrpc-agent: a metadata key gRPC cannot represent (here a space) threw before the handler ran; no answer came.</summary>
    [Fact]
    public async Task Ttrpc_MetadataKeyGrpcRefuses_IsInvalidArgument()
    {
        await using var world = new AgentWorld();
        var request = new Request { Service = Agent, Method = "RemoveContainer", Payload = ByteString.CopyFrom(0x0A, 0x01, 0x20), Metadata = { new KeyValue { Key = " " } } };

        var response = await AnswerAsync(world.Server, new FuzzFrame(1, (byte)TtrpcMessageType.Request, 0, request.ToByteArray()));

        Assert.Equal((int)StatusCode.InvalidArgument, response.Status.Code);
        Assert.Contains("metadata key", response.Status.Message);
    }

    /// <summary>agent-rpc: invalid UTF-8 inside a JSON string of spec_json passed the parser and failed when read (Internal).</summary>
    [Theory]
    [InlineData("{\"ociVersion\":\"1.\u0001\"}")]
    [InlineData("{\"ociVersion\":\"1.0.2\",\"process\":{\"args\":[\"\u0001\"]}}")]
    public void SpecTranslator_InvalidUtf8InAString_IsInvalidArgument(string template)
    {
        var json = Encoding.UTF8.GetBytes(template).Select(b => b == 0x01 ? (byte)0x9A : b).ToArray();

        var e = Assert.Throws<KataSharpException>(() => SpecTranslator.Translate(json, new SpecTranslationInput("c1", "/run/katasharp/shared", "rootfs", false, null)));
        Assert.Equal(ErrorKind.InvalidArgument, e.Kind);
        Assert.Equal(ErrorKind.InvalidArgument, Assert.Throws<KataSharpException>(() => SpecTranslator.TranslateProcess(json, terminal: false)).Kind);
    }

    /// <summary>ttrpc-agent: WriteStdin after CloseStdin failed with an unclassified InvalidOperationException (Internal).</summary>
    [Fact]
    public async Task Agent_WriteStdinAfterCloseStdin_IsFailedPrecondition()
    {
        await using var world = new AgentWorld();
        var (client, end) = InMemoryDuplex.Create();
        var serving = world.Server.ServeAsync(end, "test", CancellationToken.None);
        await using (var agent = new TtrpcClient(client))
        {
            await agent.CallAsync(Agent, "CreateContainer", new CreateContainerRequest
            {
                ContainerId = "c1",
                SpecJson = ByteString.CopyFrom(File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "corpus", "oci-spec", "ctr-run.json"))),
                Rootfs = "rootfs",
                Stdio = new StdioOptions { Stdin = true },
            }.ToByteArray());
            await agent.CallAsync(Agent, "CloseStdin", new ProcessRequest { ContainerId = "c1" }.ToByteArray());

            var e = await Assert.ThrowsAsync<RpcException>(() => agent.CallAsync(Agent, "WriteStdin",
                new WriteStdinRequest { ContainerId = "c1", Data = ByteString.CopyFromUtf8("x") }.ToByteArray()));
            Assert.Equal(StatusCode.FailedPrecondition, e.StatusCode);
        }

        await serving.WaitAsync(TimeSpan.FromSeconds(10));
        world.Log.ThrowIfAny();
    }

    /// <summary>oci-spec: a mount whose destination, type or option is not a string made GuestSpecAdapter throw (Internal on Create).</summary>
    [Fact]
    public void GuestSpecAdapter_MountOfAnotherShape_PassesThroughForTheAgentToRefuse()
    {
        var spec = new JsonObject { ["mounts"] = new JsonArray(JsonNode.Parse("""{"destination":5,"type":"bind","source":"/dev/shm","options":["bind"]}""")) };

        var adapted = GuestSpecAdapter.Adapt(spec);

        Assert.True(JsonNode.DeepEquals(spec["mounts"], adapted["mounts"]));
    }

    /// <summary>oci-spec: the same, with non-string type and options around a /dev/shm bind, which is still found and replaced.</summary>
    [Fact]
    public void GuestSpecAdapter_ShmBindAmongNonStringOptions_BecomesTheGuestTmpfs()
    {
        var spec = new JsonObject { ["mounts"] = new JsonArray(JsonNode.Parse("""{"destination":"/dev/shm","type":["bind"],"source":"x","options":[7,null,"rbind"]}""")) };

        var adapted = GuestSpecAdapter.Adapt(spec);

        Assert.Equal("tmpfs", adapted["mounts"]![0]!["type"]!.GetValue<string>());
    }

    /// <summary>oci-spec: invalid UTF-8 in config.json, and a repeated key, failed when read (InvalidOperationException, ArgumentException).</summary>
    [Theory]
    [InlineData("{\"annotations\":{\"a\":\"\u0001\"}}")]
    [InlineData("{\"memory\":{},\"cpu\":{\"shares\":4},\"cpu\":{\"shares\":512}}")]
    [InlineData("{\"annotations\":{\"io.kubernetes.cri.sandbox-id\":\"a\",\"io.kubernetes.cri.sandbox-id\":\"b\"}}")]
    public void BundleSpec_InvalidUtf8OrARepeatedKey_IsInvalidData(string template)
    {
        var bundle = Directory.CreateTempSubdirectory("ks-finding-").FullName;
        try
        {
            File.WriteAllBytes(Path.Combine(bundle, "config.json"), Encoding.UTF8.GetBytes(template).Select(b => b == 0x01 ? (byte)0xFF : b).ToArray());

            Assert.Throws<InvalidDataException>(() => BundleSpec.Load(bundle));
        }
        finally
        {
            Directory.Delete(bundle, recursive: true);
        }
    }

    /// <summary>oci-spec: the agent read a repeated key as an ArgumentException (Internal) instead of refusing the spec.</summary>
    [Fact]
    public void SpecTranslator_RepeatedKey_IsInvalidArgument()
    {
        var json = """{"ociVersion":"1.0.2","process":{"args":["sh"]},"process":{"args":["sh"]}}"""u8.ToArray();

        var e = Assert.Throws<KataSharpException>(() => SpecTranslator.Translate(json, new SpecTranslationInput("c1", "/run/katasharp/shared", "rootfs", false, null)));
        Assert.Equal(ErrorKind.InvalidArgument, e.Kind);
    }

    /// <summary>
    /// shim-rpc: Delete of the container that owns the VM hung for good when a Create booted a new VM while the old one
    /// was being disposed: StopVmAsync then waited for the new VM's OOM watch, which nothing cancels.
    /// </summary>
    [Fact]
    public async Task Shim_CreateThatBootsAVmWhileTheLastOneStops_DoesNotHangTheDelete()
    {
        var bundle = Directory.CreateTempSubdirectory("ks-finding-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(bundle, "config.json"), """{"ociVersion":"1.0.2","process":{"args":["sh"]},"linux":{"namespaces":[{"type":"pid"},{"type":"ipc"},{"type":"uts"},{"type":"mount"}]}}""");
            var disposing = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var vms = new Queue<IPodVm>([Vm("vm1", disposing, release.Task), Vm("vm2", new TaskCompletionSource(), Task.CompletedTask)]);
            var factory = new Mock<IPodVmFactory>();
            factory.Setup(f => f.CreateAsync(It.IsAny<string>(), It.IsAny<string>(), It.IsAny<BundleSpec>(), It.IsAny<string?>(), It.IsAny<CancellationToken>()))
                .ReturnsAsync(() => vms.Dequeue());
            var service = new KataSharp.Shim.TaskService.TaskService(new Shim.RecordingEvents(), factory.Object, NullLogger.Instance);
            var context = new Shim.TestCallContext();
            await service.Create(new CreateTaskRequest { Id = "c1", Bundle = bundle }, context);

            var delete = service.Delete(new DeleteRequest { Id = "c1" }, context);
            await disposing.Task.WaitAsync(TimeSpan.FromSeconds(10));
            var create = service.Create(new CreateTaskRequest { Id = "c2", Bundle = bundle }, context);
            release.SetResult();

            await delete.WaitAsync(TimeSpan.FromSeconds(10));
            await create.WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(4243u, service.Pod.Pid);
            await service.DisposeAllAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }
        finally
        {
            Directory.Delete(bundle, recursive: true);
        }

        // A VM whose OOM watch ends only when cancelled, and whose disposal waits for the test.
        static IPodVm Vm(string id, TaskCompletionSource disposing, Task release)
        {
            var exited = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            var agent = new Mock<IPodAgent>();
            agent.Setup(a => a.NextOomAsync(It.IsAny<CancellationToken>())).Returns(async (CancellationToken ct) =>
            {
                await Task.Delay(Timeout.Infinite, ct);
                return string.Empty;
            });
            var container = new Mock<IGuestContainer>();
            var init = new Mock<IGuestProcess>();
            init.Setup(p => p.WaitAsync(It.IsAny<CancellationToken>())).Returns((CancellationToken ct) => Task.Delay(Timeout.Infinite, ct).ContinueWith(_ => new KataSharp.Runtime.Sandbox.ProcessExitInfo(0, DateTimeOffset.UtcNow, false), TaskScheduler.Default));
            container.SetupGet(c => c.Init).Returns(init.Object);
            var vm = new Mock<IPodVm>();
            vm.SetupGet(v => v.Id).Returns(id);
            vm.SetupGet(v => v.Pid).Returns(id == "vm1" ? 4242u : 4243u);
            vm.SetupGet(v => v.Exited).Returns(exited.Task);
            vm.SetupGet(v => v.Agent).Returns(agent.Object);
            vm.Setup(v => v.CreateContainerAsync(It.IsAny<KataSharp.Runtime.Sandbox.ContainerOptions>(), It.IsAny<CancellationToken>())).ReturnsAsync(container.Object);
            vm.Setup(v => v.DisposeAsync()).Returns(async () =>
            {
                disposing.TrySetResult();
                await release;
                exited.TrySetResult("destroyed");
            });
            return vm.Object;
        }
    }

    /// <summary>
    /// shim-rpc, ttrpc-shim (seeds 1ypTmZSD6FW2, dLnuuxizkM02: Create, Create, Start, Delete, all in flight at once):
    /// a Delete that came while its container's Create was still in the guest removed the container and disposed
    /// its stdio; the Create then went on with both, and failed with ObjectDisposedException (Internal).
    /// </summary>
    [Fact]
    public async Task Shim_DeleteWhileItsCreateIsInTheGuest_IsFailedPreconditionAndTheCreateCompletes()
    {
        var bundle = Directory.CreateTempSubdirectory("ks-finding-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(bundle, "config.json"), """{"ociVersion":"1.0.2","process":{"args":["sh"]},"linux":{"namespaces":[{"type":"pid"},{"type":"ipc"},{"type":"uts"},{"type":"mount"}]}}""");
            var stdout = Path.Combine(bundle, "stdout");
            File.WriteAllText(stdout, string.Empty);
            var inGuest = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var created = new TaskCompletionSource<IGuestContainer>(TaskCreationOptions.RunContinuationsAsynchronously);
            var vm = new Mock<IPodVm>();
            vm.SetupGet(v => v.Id).Returns("vm1");
            vm.SetupGet(v => v.Pid).Returns(4242u);
            vm.SetupGet(v => v.Size).Returns(new VmSize(1, 256));
            vm.SetupGet(v => v.Exited).Returns(new TaskCompletionSource<string>().Task);
            var agent = new Mock<IPodAgent>();
            agent.Setup(a => a.NextOomAsync(It.IsAny<CancellationToken>())).Returns(async (CancellationToken ct) =>
            {
                await Task.Delay(Timeout.Infinite, ct);
                return string.Empty;
            });
            vm.SetupGet(v => v.Agent).Returns(agent.Object);
            vm.Setup(v => v.CreateContainerAsync(It.IsAny<KataSharp.Runtime.Sandbox.ContainerOptions>(), It.IsAny<CancellationToken>()))
                .Returns(() =>
                {
                    inGuest.TrySetResult();
                    return created.Task;
                });
            var factory = new Mock<IPodVmFactory>();
            factory.Setup(f => f.CreateAsync(It.IsAny<string>(), It.IsAny<string>(), It.IsAny<BundleSpec>(), It.IsAny<string?>(), It.IsAny<CancellationToken>()))
                .ReturnsAsync(vm.Object);
            var service = new KataSharp.Shim.TaskService.TaskService(new Shim.RecordingEvents(), factory.Object, NullLogger.Instance);
            var context = new Shim.TestCallContext();

            var create = service.Create(new CreateTaskRequest { Id = "c1", Bundle = bundle, Stdout = stdout }, context);
            await inGuest.Task.WaitAsync(TimeSpan.FromSeconds(10));
            var e = await Assert.ThrowsAsync<KataSharpException>(() => service.Delete(new DeleteRequest { Id = "c1" }, context).WaitAsync(TimeSpan.FromSeconds(10)));
            Assert.Equal(ErrorKind.FailedPrecondition, e.Kind);
            var init = new Mock<IGuestProcess>();
            init.Setup(p => p.WaitAsync(It.IsAny<CancellationToken>())).Returns(new TaskCompletionSource<KataSharp.Runtime.Sandbox.ProcessExitInfo>().Task);
            created.SetResult(Mock.Of<IGuestContainer>(c => c.Init == init.Object));

            Assert.Equal(4242u, (await create.WaitAsync(TimeSpan.FromSeconds(10))).Pid);
            await service.Delete(new DeleteRequest { Id = "c1" }, context).WaitAsync(TimeSpan.FromSeconds(10));
            Assert.True(service.Pod.IsEmpty);
            Assert.Null(service.Pod.Vm);
        }
        finally
        {
            Directory.Delete(bundle, recursive: true);
        }
    }

    /// <summary>
    /// ttrpc-shim, shim-rpc, oci-spec: a spec member of another JSON type than expected (an array for an object)
    /// threw InvalidOperationException where the readers walk the spec with the indexer: Internal on Create.
    /// </summary>
    [Fact]
    public void ShimSpecReaders_MembersOfAnotherType_AreNoCrash()
    {
        var spec = JsonNode.Parse("""{"linux":{"resources":{"memory":[1],"cpu":"x","unified":[2]},"namespaces":[5,{"type":7},{"type":"network","path":9}],"cgroupsPath":3},"process":{"capabilities":[]}}""")!.AsObject();

        ResourceFit.Require(spec["linux"]!["resources"]!.AsObject(), "c1", new VmSize(1, 256), new HostCapacity(2, 1024));
        Assert.Equal(string.Empty, PodVm.NetworkNamespacePath(spec));
        Assert.False(PrivilegedDevices.IsPrivileged(spec));
        var linuxIsAnArray = JsonNode.Parse("""{"linux":[],"process":{"args":["sh"]}}""")!.AsObject();
        Assert.Equal(ErrorKind.FailedPrecondition, Assert.Throws<KataSharpException>(() => HostNamespaceRefusal.Check(linuxIsAnArray)).Kind);
        Assert.Null(PodVm.NetworkNamespacePath(linuxIsAnArray));
    }

    /// <summary>shim-rpc: Update with invalid UTF-8 in a resources key failed when ResourceFit read it (InvalidOperationException, Internal).</summary>
    [Fact]
    public void ResourceFit_InvalidUtf8InTheResources_IsInvalidArgument()
    {
        var json = Encoding.UTF8.GetBytes("""{"memory":{"limit":67108864,"reservation":-1}}""").Select(b => b == 0x01 ? (byte)0xA8 : b).ToArray();

        var e = Assert.Throws<KataSharpException>(() => ResourceFit.Require(json, "c1", new VmSize(1, 256), new HostCapacity(2, 1024)));
        Assert.Equal(ErrorKind.InvalidArgument, e.Kind);
    }

    /// <summary>Sends one frame on a fresh connection and returns the server's answer to it.</summary>
    internal static async Task<Response> AnswerAsync(TtrpcServer server, FuzzFrame frame)
    {
        var (client, end) = InMemoryDuplex.Create();
        var serving = server.ServeAsync(end, "test", CancellationToken.None);
        using (client)
        {
            await client.WriteAsync(FuzzFrame.Encode([frame]));
            var reader = new TtrpcFrameReader(PipeReader.Create(client, new StreamPipeReaderOptions(leaveOpen: true)));
            var answer = await reader.ReadAsync(TtrpcMessageType.Response, Response.Parser, CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            Assert.NotNull(answer?.Message);
            Assert.Equal(frame.StreamId, answer.Header.StreamId);
            InMemoryDuplex.CloseWrite(client);
            await serving.WaitAsync(TimeSpan.FromSeconds(10));
            return answer.Message;
        }
    }
}

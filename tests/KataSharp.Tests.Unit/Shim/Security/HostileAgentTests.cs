using System.Diagnostics;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using KataSharp.Protocol.Agent.V1;
using KataSharp.Protocol.Containerd.Events;
using KataSharp.Protocol.Containerd.Task.V2;
using KataSharp.Protocol.Ttrpc;
using KataSharp.Protocol.Ttrpc.Wire;
using KataSharp.Runtime.Agent;
using KataSharp.Runtime.Sandbox;
using KataSharp.Shim.Events;
using KataSharp.Shim.TaskService;
using Microsoft.Extensions.Logging.Abstractions;
using Moq;
using Xunit.Abstractions;
using Task = System.Threading.Tasks.Task;

namespace KataSharp.Tests.Unit.Shim.Security;

[CollectionDefinition(nameof(HostileAgentCollection), DisableParallelization = true)]
public sealed class HostileAgentCollection;

/// <summary>
/// A guest that lies, floods and breaks the protocol, against the shim's real Task service, pod, process
/// state, event publisher and agent connection (only the VM is missing: the agent is a socket this test
/// serves, and containerd's event service another). Alone in its collection, so the memory it measures is its own.
/// </summary>
[Collection(nameof(HostileAgentCollection))]
public sealed class HostileAgentTests(ITestOutputHelper output)
{
    private const int UnknownOoms = 64;
    private const int FloodOoms = 100_000;
    private const int EmptyReadsOnOffer = 1_000_000;
    private const long MemoryBound = 100L << 20;

    [Fact]
    public async Task AHostileGuestLeavesTheShimUpBoundedAndItsExitPublished()
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var floodConsumed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var framesTried = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var oomsServed = 0;
        var reads = 0;
        var statsCalls = 0;
        var hugeId = new string('x', 1 << 20);

        async Task Handle(Request request, HostileAgent.Reply reply)
        {
            switch (request.Method)
            {
                case "StartContainer":
                    started.TrySetResult();
                    await reply.OkAsync(new StartContainerResponse { Pid = 1 });
                    break;
                case "GetOomEvent":
                    await started.Task;
                    var n = Interlocked.Increment(ref oomsServed);
                    if (n <= UnknownOoms)
                    {
                        await reply.OkAsync(new OomEvent { ContainerId = hugeId + n });
                    }
                    else if (n <= UnknownOoms + FloodOoms)
                    {
                        await reply.OkAsync(new OomEvent { ContainerId = "c1" });
                    }
                    else
                    {
                        // The shim asks again only once it has handled every answer before: the flood is in.
                        floodConsumed.TrySetResult();
                    }

                    break;
                case "ReadOutput":
                    await reply.OkAsync(new ReadOutputResponse { Eof = Interlocked.Increment(ref reads) > EmptyReadsOnOffer });
                    break;
                case "WaitProcess":
                    await Task.WhenAll(floodConsumed.Task, framesTried.Task);
                    await reply.OkAsync(new WaitProcessResponse { ExitStatus = 0, ExitedAt = new Timestamp { Seconds = 1L << 62 } });
                    break;
                case "StatsContainer":
                    await HostileStatsAsync(Interlocked.Increment(ref statsCalls), reply);
                    break;
            }
        }

        var before = GC.GetTotalMemory(forceFullCollection: true);
        var (agent, connection) = await HostileAgent.StartAsync(Handle);
        await using var _ = agent;
        await using var containerd = new FakeContainerd();
        var events = new EventPublisher(containerd.Address, "k8s.io", NullLogger.Instance);
        var vmExited = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var service = new TaskService(events, VmFactory(connection, vmExited).Object, NullLogger.Instance);
        var context = new TestCallContext();
        var bundle = Directory.CreateTempSubdirectory("ks-bundle-").FullName;
        try
        {
            await File.WriteAllTextAsync(Path.Combine(bundle, "config.json"), """{"ociVersion":"1.0.2","process":{"args":["sh"]},"linux":{"namespaces":[{"type":"pid"},{"type":"ipc"}]}}""");
            await service.Create(new CreateTaskRequest { Id = "c1", Bundle = bundle }, context);
            var clock = Stopwatch.StartNew();
            await service.Start(new StartRequest { Id = "c1" }, context);

            // Broken frames fail their own call only, with the status that says whose fault it is.
            Assert.Equal(StatusCode.ResourceExhausted, (await Assert.ThrowsAnyAsync<RpcException>(() => Stats(service, context))).StatusCode);
            Assert.Equal(StatusCode.Internal, (await Assert.ThrowsAnyAsync<RpcException>(() => Stats(service, context))).StatusCode);
            await Stats(service, context);
            framesTried.SetResult();

            var exit = TaskExit.Parser.ParseFrom((await containerd.WaitForAsync(Topics.TaskExit)).Event.Value);
            var readsSoFar = Volatile.Read(ref reads);
            var elapsed = clock.Elapsed;

            // The exit is published, its impossible time clamped to the host's clock.
            Assert.Equal(("c1", 0u), (exit.ContainerId, exit.ExitStatus));
            Assert.InRange(exit.ExitedAt.ToDateTimeOffset(), DateTimeOffset.UnixEpoch, DateTimeOffset.UtcNow);
            Assert.Equal(0u, (await service.Wait(new WaitRequest { Id = "c1" }, context)).ExitStatus);

            // OOM kills of containers nobody created are dropped and counted; a flood for a real one coalesces.
            Assert.Equal(UnknownOoms, service.Pod.DroppedOomEvents);
            var forwardedOoms = containerd.Received.Count(e => e.Topic == Topics.TaskOom);
            Assert.Equal(FloodOoms, forwardedOoms + events.Coalesced);
            Assert.True(events.Coalesced > 0, "a flood of OOM events for one container never coalesced");
            Assert.Equal(0, events.Dropped);
            Assert.InRange(events.HighWater, 1, 8);

            // Empty reads back off: never more reads per stream than the back-off's first wait fits into the time taken.
            var readBound = 2 * ((elapsed.Ticks / EmptyReadBackoff.Initial.Ticks) + 1);
            Assert.InRange(readsSoFar, 1, readBound);

            output.WriteLine($"{elapsed.TotalSeconds:0.0} s from start to exit: {readsSoFar} reads of {EmptyReadsOnOffer} empty ones on offer, "
                + $"{forwardedOoms} OOM events forwarded and {events.Coalesced} coalesced, queue high water {events.HighWater}");

            // A frame that claims 4 GiB costs the connection, not the shim's memory.
            var lying = await Assert.ThrowsAnyAsync<RpcException>(() => service.Pod.Vm!.Agent.StatsAsync("c1", CancellationToken.None));
            Assert.Equal(StatusCode.ResourceExhausted, lying.StatusCode);
            var growth = GC.GetTotalMemory(forceFullCollection: true) - before;
            output.WriteLine($"managed heap growth {growth >> 20} MiB");
            Assert.InRange(growth, long.MinValue, MemoryBound);

            // And the shim still serves containerd: the task is deleted, and the VM with it.
            await service.Delete(new DeleteRequest { Id = "c1" }, context);
            await containerd.WaitForAsync(Topics.TaskDelete);
            Assert.True(service.Pod.IsEmpty);
        }
        finally
        {
            await service.DisposeAllAsync();
            await events.DisposeAsync();
            Directory.Delete(bundle, recursive: true);
        }
    }

    private static Task<StatsResponse> Stats(TaskService service, TestCallContext context) =>
        service.Stats(new StatsRequest { Id = "c1" }, context);

    private static async Task HostileStatsAsync(int call, HostileAgent.Reply reply)
    {
        switch (call)
        {
            case 1:
                // One byte past ttrpc's 4 MiB limit, really sent.
                await reply.FrameAsync(new byte[TtrpcFrameHeader.MaxPayload + 1], reply.StreamId);
                break;
            case 2:
                // A reply for a call nobody made, then a payload that is not the message owed.
                await reply.ResponseAsync(new Response { Status = new KataSharp.Protocol.Rpc.Status(), Payload = new StatsContainerResponse().ToByteString() }, onStream: reply.StreamId + 1000);
                await reply.OkAsync(ByteString.CopyFrom(0xff, 0xff, 0xff, 0xff));
                break;
            case 3:
                await reply.OkAsync(new StatsContainerResponse());
                break;
            default:
                // A length of 0xFFFFFFFF, and then the guest is gone.
                await reply.FrameAsync([], reply.StreamId, declaredLength: uint.MaxValue);
                reply.HangUp();
                break;
        }
    }

    private static Mock<IPodVmFactory> VmFactory(AgentConnection connection, TaskCompletionSource<string> exited)
    {
        var vm = new Mock<IPodVm>(MockBehavior.Strict);
        vm.SetupGet(v => v.Id).Returns("c1");
        vm.SetupGet(v => v.Pid).Returns(1u);
        vm.SetupGet(v => v.Size).Returns(new VmSize(1, 512));
        vm.SetupGet(v => v.Exited).Returns(exited.Task);
        // No metrics endpoint for a faked VM.
        vm.SetupGet(v => v.Metrics).Returns((KataSharp.Shim.Telemetry.PodMetricsSource?)null);
        vm.SetupGet(v => v.Agent).Returns(new PodAgent(connection));
        vm.Setup(v => v.CreateContainerAsync(It.IsAny<ContainerOptions>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync((ContainerOptions options, CancellationToken _) => Guest(connection, options.Id));
        vm.Setup(v => v.DisposeAsync()).Returns(async () =>
        {
            exited.TrySetResult("destroyed");
            await connection.DisposeAsync();
        });
        var factory = new Mock<IPodVmFactory>(MockBehavior.Strict);
        factory.Setup(f => f.CreateAsync(It.IsAny<string>(), It.IsAny<string>(), It.IsAny<KataSharp.Shim.Lifecycle.BundleSpec>(), It.IsAny<string?>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync(vm.Object);
        return factory;
    }

    private static IGuestContainer Guest(AgentConnection connection, string id)
    {
        var container = new Mock<IGuestContainer>(MockBehavior.Strict);
        container.SetupGet(c => c.Init).Returns(new GuestProcess(new ContainerProcess(connection, id, "", terminal: false)));
        container.Setup(c => c.StartAsync(It.IsAny<CancellationToken>())).Returns((CancellationToken ct) => connection.StartContainerAsync(id, ct));
        container.Setup(c => c.RemoveAsync(It.IsAny<CancellationToken>())).Returns(Task.CompletedTask);
        return container.Object;
    }
}

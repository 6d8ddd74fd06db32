using System.Text.Json.Nodes;
using Google.Protobuf;
using KataSharp.Protocol.Containerd.Events;
using UpdateTaskRequest = KataSharp.Protocol.Containerd.Task.V2.UpdateTaskRequest;
using KataSharp.Protocol.Errors;
using KataSharp.Shim.Events;
using KataSharp.Shim.TaskService;
using Moq;

namespace KataSharp.Tests.Unit.Shim;

/// <summary>Resource updates and exit times as the Task service hands them on, over a faked sandbox of 1 vCPU and 512 MiB.</summary>
public sealed class ResourceUpdateTests
{
    private static UpdateTaskRequest Update(string json) => new()
    {
        Id = "c1",
        Resources = new Google.Protobuf.WellKnownTypes.Any { TypeUrl = "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources", Value = ByteString.CopyFromUtf8(json) },
    };

    [Fact]
    public async Task AnUpdateWithinTheVmReachesTheAgentAsItCame()
    {
        await using var pod = new FakeSandbox();
        await pod.CreateAsync("c1");
        await pod.StartAsync("c1");
        const string json = """{"memory":{"limit":67108864},"cpu":{"quota":50000,"period":100000},"pids":{"limit":20}}""";

        await pod.Service.Update(Update(json), pod.Context);

        pod.Agent.Verify(a => a.UpdateAsync("c1", It.Is<ByteString>(b => b.ToStringUtf8() == json), It.IsAny<CancellationToken>()), Times.Once);
    }

    [Theory]
    [InlineData("""{"memory":{"limit":1073741824}}""")]
    [InlineData("""{"cpu":{"quota":200000,"period":100000}}""")]
    public async Task AnUpdatePastTheVmIsRefusedBeforeTheGuestSeesIt(string json)
    {
        await using var pod = new FakeSandbox();
        await pod.CreateAsync("c1");
        await pod.StartAsync("c1");

        var e = await Assert.ThrowsAsync<KataSharpException>(() => pod.Service.Update(Update(json), pod.Context));

        Assert.Equal(ErrorKind.FailedPrecondition, e.Kind);
        pod.Agent.Verify(a => a.UpdateAsync(It.IsAny<string>(), It.IsAny<ByteString>(), It.IsAny<CancellationToken>()), Times.Never);
    }

    [Fact]
    public async Task AnUpdatePastTheVmWithinItsCeilingGrowsTheVmBeforeTheGuestSeesIt()
    {
        await using var pod = new FakeSandbox();
        pod.Vm.SetupGet(v => v.Size).Returns(new VmSize(1, 512, MemoryCeilingMiB: 2048, GuestMiB: 256));
        var order = new List<string>();
        pod.Vm.Setup(v => v.GrowMemoryAsync(It.IsAny<int>(), It.IsAny<CancellationToken>())).Callback((int mib, CancellationToken _) => order.Add($"grow {mib}")).Returns(Task.CompletedTask);
        pod.Agent.Setup(a => a.UpdateAsync("c1", It.IsAny<ByteString>(), It.IsAny<CancellationToken>())).Callback(() => order.Add("update")).Returns(Task.CompletedTask);
        await pod.CreateAsync("c1");
        await pod.StartAsync("c1");

        await pod.Service.Update(Update("""{"memory":{"limit":1073741824}}"""), pod.Context);

        Assert.Equal(["grow 1280", "update"], order);
    }

    [MultiCpuHostFact]
    public async Task AnUpdateOfTheCpuLimitPastTheVmWithinItsCeilingOnlinesVcpusBeforeTheGuestSeesIt()
    {
        await using var pod = new FakeSandbox();
        pod.Vm.SetupGet(v => v.Size).Returns(new VmSize(1, 512, VcpuCeiling: 2));
        var order = new List<string>();
        pod.Vm.Setup(v => v.GrowVcpusAsync(It.IsAny<int>(), It.IsAny<CancellationToken>())).Callback((int vcpus, CancellationToken _) => order.Add($"online {vcpus}")).Returns(Task.CompletedTask);
        pod.Agent.Setup(a => a.UpdateAsync("c1", It.IsAny<ByteString>(), It.IsAny<CancellationToken>())).Callback(() => order.Add("update")).Returns(Task.CompletedTask);
        await pod.CreateAsync("c1");
        await pod.StartAsync("c1");

        // 1.5 CPUs: two vCPUs, on any host of two or more.
        await pod.Service.Update(Update("""{"cpu":{"quota":150000,"period":100000}}"""), pod.Context);

        Assert.Equal(["online 2", "update"], order);
        pod.Vm.Verify(v => v.GrowMemoryAsync(It.IsAny<int>(), It.IsAny<CancellationToken>()), Times.Never);
    }

    [MultiCpuHostFact]
    public async Task AContainerCreatedWithACpuLimitPastTheVmWithinItsCeilingOnlinesVcpusFirst()
    {
        await using var pod = new FakeSandbox();
        pod.Vm.SetupGet(v => v.Size).Returns(new VmSize(1, 512, VcpuCeiling: 2));
        var online = new List<int>();
        pod.Vm.Setup(v => v.GrowVcpusAsync(It.IsAny<int>(), It.IsAny<CancellationToken>())).Callback((int vcpus, CancellationToken _) => online.Add(vcpus)).Returns(Task.CompletedTask);
        await pod.CreateAsync("pod");

        await pod.CreateAsync("c1", FakeSandbox.InPod(), resources: new JsonObject { ["cpu"] = new JsonObject { ["quota"] = 200_000L, ["period"] = 100_000L } });

        Assert.Equal([2], online);
        Assert.Contains(pod.Events.Published, p => p.Event is TaskCreate { ContainerId: "c1" });
    }

    [MultiCpuHostFact]
    public async Task AGuestThatCannotOnlineItsVcpusLeavesTheGuestsLimitAlone()
    {
        await using var pod = new FakeSandbox();
        pod.Vm.SetupGet(v => v.Size).Returns(new VmSize(1, 512, VcpuCeiling: 2));
        pod.Vm.Setup(v => v.GrowVcpusAsync(It.IsAny<int>(), It.IsAny<CancellationToken>())).ThrowsAsync(Errdefs.FailedPrecondition("the guest has 1 vCPUs"));
        await pod.CreateAsync("c1");
        await pod.StartAsync("c1");

        var e = await Assert.ThrowsAsync<KataSharpException>(() => pod.Service.Update(Update("""{"cpu":{"quota":200000,"period":100000}}"""), pod.Context));

        Assert.Equal(ErrorKind.FailedPrecondition, e.Kind);
        pod.Agent.Verify(a => a.UpdateAsync(It.IsAny<string>(), It.IsAny<ByteString>(), It.IsAny<CancellationToken>()), Times.Never);
    }

    [Fact]
    public async Task AVmThatFailsToGrowLeavesTheGuestsLimitAlone()
    {
        await using var pod = new FakeSandbox();
        pod.Vm.SetupGet(v => v.Size).Returns(new VmSize(1, 512, MemoryCeilingMiB: 2048, GuestMiB: 256));
        pod.Vm.Setup(v => v.GrowMemoryAsync(It.IsAny<int>(), It.IsAny<CancellationToken>())).ThrowsAsync(Errdefs.Unavailable("the balloon is stuck"));
        await pod.CreateAsync("c1");
        await pod.StartAsync("c1");

        var e = await Assert.ThrowsAsync<KataSharpException>(() => pod.Service.Update(Update("""{"memory":{"limit":1073741824}}"""), pod.Context));

        Assert.Equal(ErrorKind.Unavailable, e.Kind);
        pod.Agent.Verify(a => a.UpdateAsync(It.IsAny<string>(), It.IsAny<ByteString>(), It.IsAny<CancellationToken>()), Times.Never);
    }

    [Fact]
    public async Task AContainerCreatedWithALimitPastTheVmIsRefusedAndLeavesNothing()
    {
        await using var pod = new FakeSandbox();
        await pod.CreateAsync("pod");

        var e = await Assert.ThrowsAsync<KataSharpException>(() =>
            pod.CreateAsync("c1", FakeSandbox.InPod(), resources: new JsonObject { ["memory"] = new JsonObject { ["limit"] = 2L << 30 } }));

        Assert.Equal(ErrorKind.FailedPrecondition, e.Kind);
        Assert.Contains("memory limit", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(pod.Events.Published, p => p.Event is TaskCreate { ContainerId: "c1" });
    }

    [Fact]
    public async Task AnExitTheGuestDatesBeforeTheStartIsReportedAtTheStart()
    {
        await using var pod = new FakeSandbox();
        await pod.CreateAsync("c1");
        var beforeStart = DateTimeOffset.UtcNow;
        await pod.StartAsync("c1");
        pod.Exit("c1", "", 0, exitedAt: beforeStart.AddMinutes(-10));
        await pod.Events.WaitForAsync(Topics.TaskExit);

        var exitedAt = (await pod.WaitAsync("c1")).ExitedAt.ToDateTimeOffset();

        Assert.InRange(exitedAt, beforeStart, DateTimeOffset.UtcNow);
        Assert.Equal(exitedAt, ((TaskExit)pod.Events.Published.Single(p => p.Event is TaskExit).Event).ExitedAt.ToDateTimeOffset());
    }
}

/// <summary>A fact about a CPU limit of more than one CPU, which a host of one CPU caps before the VM is asked.</summary>
public sealed class MultiCpuHostFactAttribute : FactAttribute
{
    public MultiCpuHostFactAttribute()
    {
        if (Environment.ProcessorCount < 2)
        {
            Skip = "needs a host of two or more CPUs: a CPU limit past one CPU is capped at the host's size before the VM grows";
        }
    }
}

using System.Text;
using KataSharp.Protocol.Errors;
using KataSharp.Shim.TaskService;

namespace KataSharp.Tests.Unit.Shim;

public sealed class ResourceFitTests
{
    private static readonly HostCapacity Host = new(Cpus: 8, MemoryMiB: 16384);
    private static readonly VmSize Vm = new(Vcpus: 2, MemoryMiB: 512);

    private static void Require(string json, HostCapacity? host = null) =>
        ResourceFit.Require(Encoding.UTF8.GetBytes(json), "c1", Vm, host ?? Host);

    [Theory]
    [InlineData("{}")]
    [InlineData("""{"memory":{"limit":536870912,"swap":536870912}}""")]
    [InlineData("""{"memory":{"limit":-1}}""")]
    [InlineData("""{"memory":{"limit":0}}""")]
    [InlineData("""{"cpu":{"quota":200000,"period":100000,"shares":1024}}""")]
    [InlineData("""{"cpu":{"quota":-1,"period":100000}}""")]
    [InlineData("""{"cpu":{"shares":262144},"pids":{"limit":1000000}}""")]
    [InlineData("""{"unified":{"memory.max":"max","cpu.max":"max 100000"}}""")]
    [InlineData("""{"unified":{"memory.high":"9999999999999"}}""")]
    public void LimitsWithinTheVmPass(string json) => Require(json);

    [Theory]
    [InlineData("""{"memory":{"limit":536870913}}""", "memory limit")]
    [InlineData("""{"unified":{"memory.max":"1073741824"}}""", "memory limit")]
    [InlineData("""{"cpu":{"quota":200001,"period":100000}}""", "CPU limit")]
    [InlineData("""{"cpu":{"quota":300000}}""", "CPU limit")]
    [InlineData("""{"unified":{"cpu.max":"250000 100000"}}""", "CPU limit")]
    public void ALimitPastTheVmIsRefusedAndSaysWhatTheVmHas(string json, string what)
    {
        var e = Assert.Throws<KataSharpException>(() => Require(json));

        Assert.Equal(ErrorKind.FailedPrecondition, e.Kind);
        Assert.Contains(what, e.Message, StringComparison.Ordinal);
        Assert.Contains("c1", e.Message, StringComparison.Ordinal);
        Assert.Contains(what == "memory limit" ? "512 MiB" : "2 vCPUs", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ALimitPastTheHostIsNotTheVmsDoingWhenTheVmHasTheWholeHost()
    {
        // runc caps a limit past the host the same way: the VM that has the whole host changes nothing.
        Require("""{"memory":{"limit":9223372036854771712},"cpu":{"quota":10000000,"period":100000}}""", new HostCapacity(Cpus: 2, MemoryMiB: 512));
    }

    [Fact]
    public void ALimitPastTheHostIsStillRefusedWhenTheVmIsSmallerThanTheHost() =>
        Assert.Equal(ErrorKind.FailedPrecondition,
            Assert.Throws<KataSharpException>(() => Require("""{"memory":{"limit":9223372036854771712}}""")).Kind);

    private static readonly VmSize Growable = new(Vcpus: 2, MemoryMiB: 512, MemoryCeilingMiB: 2048, GuestMiB: 256);

    [Theory]
    [InlineData(536870912, null)] // fits as it is
    [InlineData(1073741824, 1024 + 256)] // the limit plus the guest's own share
    [InlineData(1073741825, 1025 + 256)] // rounded up to a whole MiB
    [InlineData(2013265920, 2048)] // 1920 MiB: the guest's share is cut to the ceiling, the limit never
    [InlineData(2147483648, 2048)] // exactly the ceiling
    public void AMemoryLimitPastTheVmGrowsItUpToTheCeiling(long limit, int? growTo) =>
        Assert.Equal(growTo, ResourceFit.Require(Encoding.UTF8.GetBytes("{\"memory\":{\"limit\":" + limit.ToString(System.Globalization.CultureInfo.InvariantCulture) + "}}"), "c1", Growable, Host).MemoryMiB);

    [Fact]
    public void AMemoryLimitPastTheCeilingIsRefusedAndNamesIt()
    {
        var e = Assert.Throws<KataSharpException>(() => ResourceFit.Require(Encoding.UTF8.GetBytes("""{"memory":{"limit":2147483649}}"""), "c1", Growable, Host).MemoryMiB);

        Assert.Equal(ErrorKind.FailedPrecondition, e.Kind);
        Assert.Contains("2048 MiB", e.Message, StringComparison.Ordinal);
        Assert.Contains("hypervisor.memoryCeilingMiB", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ALimitPastTheHostGrowsTheVmOnlyAsFarAsTheHost() =>
        Assert.Equal(2048, ResourceFit.Require(Encoding.UTF8.GetBytes("""{"memory":{"limit":9223372036854771712}}"""), "c1", Growable, new HostCapacity(Cpus: 8, MemoryMiB: 2000)).MemoryMiB);

    [Fact]
    public void ACpuLimitPastTheVmIsRefusedBeforeAnyMemoryIsGrown() =>
        Assert.Contains("CPU limit", Assert.Throws<KataSharpException>(() =>
            ResourceFit.Require(Encoding.UTF8.GetBytes("""{"memory":{"limit":1073741824},"cpu":{"quota":300000}}"""), "c1", Growable, Host)).Message, StringComparison.Ordinal);

    private static readonly VmSize VcpuGrowable = new(Vcpus: 1, MemoryMiB: 512, VcpuCeiling: 4);

    [Theory]
    [InlineData("""{"cpu":{"quota":100000,"period":100000}}""", null)] // fits as it is
    [InlineData("""{"cpu":{"quota":150000,"period":100000}}""", 2)] // rounded up to whole vCPUs
    [InlineData("""{"cpu":{"quota":300000}}""", 3)] // the default period
    [InlineData("""{"unified":{"cpu.max":"400000 100000"}}""", 4)] // exactly the ceiling
    public void ACpuLimitPastTheVmOnlinesVcpusUpToTheCeiling(string json, int? online) =>
        Assert.Equal(online, ResourceFit.Require(Encoding.UTF8.GetBytes(json), "c1", VcpuGrowable, Host).Vcpus);

    [Fact]
    public void ACpuLimitPastTheCeilingIsRefusedAndNamesIt()
    {
        var e = Assert.Throws<KataSharpException>(() => ResourceFit.Require(Encoding.UTF8.GetBytes("""{"cpu":{"quota":400001,"period":100000}}"""), "c1", VcpuGrowable, Host));

        Assert.Equal(ErrorKind.FailedPrecondition, e.Kind);
        Assert.Contains("4 vCPUs", e.Message, StringComparison.Ordinal);
        Assert.Contains("hypervisor.vcpuCeiling", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ACpuLimitPastTheHostOnlinesOnlyAsManyVcpusAsTheHostHas() =>
        Assert.Equal(3, ResourceFit.Require(Encoding.UTF8.GetBytes("""{"cpu":{"quota":100000000,"period":100000}}"""), "c1", VcpuGrowable, new HostCapacity(Cpus: 3, MemoryMiB: 16384)).Vcpus);

    [Fact]
    public void BothLimitsPastTheVmGrowBoth() =>
        Assert.Equal(new VmGrowth(2, 1024 + 256),
            ResourceFit.Require(Encoding.UTF8.GetBytes("""{"memory":{"limit":1073741824},"cpu":{"quota":200000}}"""), "c1", Growable with { VcpuCeiling = 4, Vcpus = 1 }, Host));

    [Theory]
    [InlineData("not json")]
    [InlineData("[1,2]")]
    [InlineData("\"memory\"")]
    public void ResourcesThatAreNotAnObjectAreInvalid(string json) =>
        Assert.Equal(ErrorKind.InvalidArgument, Assert.Throws<KataSharpException>(() => Require(json)).Kind);

    [Fact]
    public void ASpecWithoutResourcesFits() => ResourceFit.Require((System.Text.Json.Nodes.JsonObject?)null, "c1", Vm, Host);
}

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

    [Theory]
    [InlineData("not json")]
    [InlineData("[1,2]")]
    [InlineData("\"memory\"")]
    public void ResourcesThatAreNotAnObjectAreInvalid(string json) =>
        Assert.Equal(ErrorKind.InvalidArgument, Assert.Throws<KataSharpException>(() => Require(json)).Kind);

    [Fact]
    public void ASpecWithoutResourcesFits() => ResourceFit.Require((System.Text.Json.Nodes.JsonObject?)null, "c1", Vm, Host);
}

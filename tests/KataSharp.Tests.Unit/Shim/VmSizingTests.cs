using KataSharp.Protocol.Errors;
using KataSharp.Runtime.Configuration;
using KataSharp.Shim.TaskService;

namespace KataSharp.Tests.Unit.Shim;

public sealed class VmSizingTests
{
    private static readonly HostCapacity Host = new(Cpus: 8, MemoryMiB: 16384);
    private static readonly HypervisorConfig Config = new() { Vcpus = 1, MemoryMiB = 512 };

    private static Dictionary<string, string> Pod(long? quota = null, long? period = null, string? memory = null)
    {
        var annotations = new Dictionary<string, string>();
        if (quota is { } q)
        {
            annotations[VmSizing.CpuQuotaAnnotation] = q.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        if (period is { } p)
        {
            annotations[VmSizing.CpuPeriodAnnotation] = p.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        if (memory is not null)
        {
            annotations[VmSizing.MemoryAnnotation] = memory;
        }

        return annotations;
    }

    [Fact]
    public void APodsLimitsAreAddedToTheConfiguredSize() =>
        Assert.Equal((3, 512 + 256), VmSizing.Size(Config, Pod(150_000, 100_000, (256L << 20).ToString(System.Globalization.CultureInfo.InvariantCulture)), Host));

    [Theory]
    [InlineData(2048, 0, 512, 2048)]
    [InlineData(2048, 1024, 512, 1024)] // never past hypervisor.maxMemoryMiB
    [InlineData(0, 0, 512, 512)] // no headroom
    [InlineData(1024, 0, 1536, 1536)] // never below the pod's size
    [InlineData(65536, 0, 512, 16384)] // never past the host
    public void TheCeilingIsTheConfiguredHeadroomWithinTheCaps(int ceiling, int max, int size, int expected) =>
        Assert.Equal(expected, VmSizing.Ceiling(Config with { MemoryCeilingMiB = ceiling, MaxMemoryMiB = max }, size, Host));

    [Theory]
    [InlineData(4, 0, 1, 4)]
    [InlineData(4, 2, 1, 2)] // never past hypervisor.maxVcpus
    [InlineData(0, 0, 1, 1)] // no headroom
    [InlineData(2, 0, 3, 3)] // never below the pod's size
    [InlineData(64, 0, 1, 8)] // never past the host
    public void TheVcpuCeilingIsTheConfiguredHeadroomWithinTheCaps(int ceiling, int max, int size, int expected) =>
        Assert.Equal(expected, VmSizing.VcpuCeiling(Config with { VcpuCeiling = ceiling, MaxVcpus = max }, size, Host));

    private static System.Text.Json.Nodes.JsonObject Resources(string json) => System.Text.Json.Nodes.JsonNode.Parse(json)!.AsObject();

    [Fact]
    public void WithoutSandboxAnnotationsTheContainersOwnLimitsSizeTheVm() =>
        Assert.Equal((1 + 2, 512 + 256), VmSizing.Size(Config, Pod(), Host, Resources("""{"cpu":{"quota":150000,"period":100000},"memory":{"limit":268435456}}""")));

    [Fact]
    public void TheSandboxAnnotationsWinOverTheContainersLimits() =>
        Assert.Equal((1 + 1, 512 + 128), VmSizing.Size(Config, Pod(100_000, 100_000, (128L << 20).ToString(System.Globalization.CultureInfo.InvariantCulture)), Host,
            Resources("""{"cpu":{"quota":400000,"period":100000},"memory":{"limit":1073741824}}""")));

    [Fact]
    public void AContainersOwnLimitPastTheHostIsCappedThereAsUnderRunc() =>
        Assert.Equal((Host.Cpus, (int)Host.MemoryMiB), VmSizing.Size(Config, Pod(), Host, Resources("""{"cpu":{"quota":100000000},"memory":{"limit":9223372036854771712}}""")));

    [Fact]
    public void AContainerWithoutLimitsGetsTheConfiguredSize() =>
        Assert.Equal((1, 512), VmSizing.Size(Config, Pod(), Host, Resources("""{"cpu":{"shares":2},"memory":{"limit":-1}}""")));

    [Fact]
    public void NoLimitsIsTheConfiguredSize() => Assert.Equal((1, 512), VmSizing.Size(Config, Pod(), Host));

    [Theory]
    [InlineData(1_000_000_000L, 1L)]
    [InlineData(long.MaxValue, 1L)]
    [InlineData(long.MaxValue, 100_000L)]
    public void AHugeCpuQuotaIsClampedToTheHost(long quota, long period) =>
        Assert.Equal(Host.Cpus, VmSizing.Size(Config, Pod(quota, period), Host).Vcpus);

    [Fact]
    public void TheConfigurationsMaximumCapsVcpusBelowTheHost() =>
        Assert.Equal(4, VmSizing.Size(Config with { MaxVcpus = 4 }, Pod(1_000_000_000, 1), Host).Vcpus);

    [Theory]
    [InlineData("9223372036854775807")]
    [InlineData("17179869184")]
    public void MemoryPastTheHostIsInvalidArgument(string bytes)
    {
        var e = Assert.Throws<KataSharpException>(() => VmSizing.Size(Config, Pod(memory: bytes), Host));
        Assert.Equal(ErrorKind.InvalidArgument, e.Kind);
    }

    [Fact]
    public void MemoryPastTheConfigurationsMaximumIsInvalidArgument()
    {
        var e = Assert.Throws<KataSharpException>(() => VmSizing.Size(Config with { MaxMemoryMiB = 1024 }, Pod(memory: (1L << 30).ToString(System.Globalization.CultureInfo.InvariantCulture)), Host));
        Assert.Equal(ErrorKind.InvalidArgument, e.Kind);
    }

    [Theory]
    [InlineData("99999999999999999999")]
    [InlineData("lots")]
    public void AMalformedSizingAnnotationIsInvalidArgument(string bytes) =>
        Assert.Equal(ErrorKind.InvalidArgument, Assert.Throws<KataSharpException>(() => VmSizing.Size(Config, Pod(memory: bytes), Host)).Kind);

    [Fact]
    public void AConfiguredSizeAboveTheCapIsKept() =>
        Assert.Equal((16, 512), VmSizing.Size(Config with { Vcpus = 16 }, Pod(200_000, 100_000), Host));

    [Fact]
    public void AnAnnotationOverflowingTheConfigKeyIsRefused()
    {
        var config = new KataSharpConfig { EnableAnnotations = ["hypervisor.memoryMiB"] };
        Assert.Throws<ConfigException>(() => ConfigAnnotations.Apply(config, [new(ConfigAnnotations.Prefix + "hypervisor.memoryMiB", "9223372036854775807")]));
    }
}

using KataSharp.Agent.Cpus;
using KataSharp.Protocol.Errors;

namespace KataSharp.Tests.Unit.Agent;

/// <summary>Onlining vCPUs against a fake /sys/devices/system/cpu: what it writes, to which CPUs, and what it refuses.</summary>
public sealed class CpuHotplugTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ks-cpus-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A CPU directory as the kernel shows it; cpu0 has no online file, as on x86.</summary>
    private string Cpuset => Path.Combine(_dir, "cpuset.cpus.effective");

    private CpuHotplug Sysfs(string present, string online, int cpus, bool mayWrite = true, int cpusetTimeoutMs = 200)
    {
        File.WriteAllText(Path.Combine(_dir, "present"), present + "\n");
        File.WriteAllText(Path.Combine(_dir, "online"), online + "\n");
        for (var cpu = 1; cpu < cpus; cpu++)
        {
            var cpuDir = Directory.CreateDirectory(Path.Combine(_dir, $"cpu{cpu}")).FullName;
            File.WriteAllText(Path.Combine(cpuDir, "online"), "0\n");
        }

        return new CpuHotplug(_dir, Cpuset, mayWrite, TimeSpan.FromMilliseconds(cpusetTimeoutMs));
    }

    private string Online(int cpu) => File.ReadAllText(Path.Combine(_dir, $"cpu{cpu}", "online"));

    [Fact]
    public async Task TheLowestOfflineCpusComeOnlineUntilTheCountIsReached()
    {
        var cpus = Sysfs("0-3", "0", 4);

        var response = await cpus.OnlineAsync(3, CancellationToken.None);

        Assert.Equal((3u, 4u), (response.Online, response.Present));
        Assert.Equal(["1", "1", "0\n"], [Online(1), Online(2), Online(3)]);
    }

    [Fact]
    public async Task CpusAlreadyOnlineCountAndAreNotWritten()
    {
        var cpus = Sysfs("0-3", "0,2", 4);

        var response = await cpus.OnlineAsync(3, CancellationToken.None);

        Assert.Equal(3u, response.Online);
        Assert.Equal(["1", "0\n", "0\n"], [Online(1), Online(2), Online(3)]);
    }

    [Fact]
    public async Task ACountAlreadyOnlineWritesNothingAndNeverOfflines()
    {
        var cpus = Sysfs("0-3", "0-2", 4);

        var response = await cpus.OnlineAsync(1, CancellationToken.None);

        Assert.Equal(3u, response.Online);
        Assert.Equal(["0\n", "0\n", "0\n"], [Online(1), Online(2), Online(3)]);
    }

    [Fact]
    public async Task MoreThanThePresentCpusIsAFailedPrecondition()
    {
        var cpus = Sysfs("0-1", "0", 2);

        var e = await Assert.ThrowsAsync<KataSharpException>(() => cpus.OnlineAsync(3, CancellationToken.None));

        Assert.Equal(ErrorKind.FailedPrecondition, e.Kind);
        Assert.Contains("2 vCPUs", e.Message, StringComparison.Ordinal);
        Assert.Equal("0\n", Online(1));
    }

    [Fact]
    public async Task AnAgentThatIsNotInitLeavesTheMachinesCpusAlone()
    {
        var cpus = Sysfs("0-1", "0", 2, mayWrite: false);

        Assert.Equal(ErrorKind.FailedPrecondition, (await Assert.ThrowsAsync<KataSharpException>(() => cpus.OnlineAsync(2, CancellationToken.None))).Kind);
        Assert.Equal("0\n", Online(1));
        Assert.Equal(1u, (await cpus.OnlineAsync(1, CancellationToken.None)).Online);
    }

    [Fact]
    public async Task ACpuWithoutAnOnlineFileFailsWithItsPath()
    {
        var cpus = Sysfs("0-2", "0", 2);

        var e = await Assert.ThrowsAsync<KataSharpException>(() => cpus.OnlineAsync(3, CancellationToken.None));

        Assert.Equal(ErrorKind.Internal, e.Kind);
        Assert.Contains("cpu2", e.Message, StringComparison.Ordinal);
        Assert.Equal("1", Online(1));
    }

    [Fact]
    public async Task TheAnswerWaitsUntilTheRootCpusetHasTheNewCpus()
    {
        var cpus = Sysfs("0-3", "0", 4, cpusetTimeoutMs: 60_000);
        File.WriteAllText(Cpuset, "0\n");

        var onlining = cpus.OnlineAsync(2, CancellationToken.None);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (Online(1) != "1")
        {
            await Task.Delay(10, timeout.Token);
        }

        // cpu1 is online but the kernel's work item has not widened the cpuset yet: no answer until it has.
        Assert.False(onlining.IsCompleted);
        File.WriteAllText(Cpuset, "0-1\n");

        Assert.Equal(2u, (await onlining).Online);
    }

    [Fact]
    public async Task ACpusetThatNeverWidensFailsAndSaysWhatItHas()
    {
        var cpus = Sysfs("0-3", "0", 4);
        File.WriteAllText(Cpuset, "0\n");

        var e = await Assert.ThrowsAsync<KataSharpException>(() => cpus.OnlineAsync(2, CancellationToken.None));

        Assert.Equal(ErrorKind.Internal, e.Kind);
        Assert.Contains("only 0", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ACountOfZeroIsInvalid() =>
        Assert.Equal(ErrorKind.InvalidArgument, (await Assert.ThrowsAsync<KataSharpException>(() => Sysfs("0", "0", 1).OnlineAsync(0, CancellationToken.None))).Kind);

    [Theory]
    [InlineData("0-3,5\n", new[] { 0, 1, 2, 3, 5 })]
    [InlineData("3,1-2,1", new[] { 1, 2, 3 })]
    [InlineData("", new int[0])]
    [InlineData("x,4-2,7", new[] { 7 })]
    public void TheKernelsCpuListIsParsedAscendingAndOnce(string list, int[] cpus) =>
        Assert.Equal(cpus, CpuList.Parse(list));
}

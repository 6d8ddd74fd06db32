using KataSharp.Agent.Stats;
using Xunit;

namespace KataSharp.Tests.Unit.Agent;

public sealed class CgroupStatsParserTests
{
    [Fact]
    public void CpuStatIsParsedKeyByKey()
    {
        const string cpuStat = "usage_usec 123456\nuser_usec 100000\nsystem_usec 23456\nnr_periods 10\nnr_throttled 2\nthrottled_usec 5000\n";

        var cpu = CgroupStatsParser.ToCpuStats(CgroupStatsParser.ParseFlatKeyed(cpuStat));

        Assert.Equal(123456UL, cpu.UsageUsec);
        Assert.Equal(100000UL, cpu.UserUsec);
        Assert.Equal(23456UL, cpu.SystemUsec);
        Assert.Equal(10UL, cpu.NrPeriods);
        Assert.Equal(2UL, cpu.NrThrottled);
        Assert.Equal(5000UL, cpu.ThrottledUsec);
    }

    [Fact]
    public void CpuStatWithoutTheCpuControllerHasOnlyUsage()
    {
        var cpu = CgroupStatsParser.ToCpuStats(CgroupStatsParser.ParseFlatKeyed("usage_usec 7\nuser_usec 5\nsystem_usec 2\n"));

        Assert.Equal(7UL, cpu.UsageUsec);
        Assert.Equal(0UL, cpu.NrPeriods);
    }

    [Fact]
    public void MemoryStatKeepsEveryKeyAndSkipsGarbage()
    {
        const string memoryStat = "anon 1048576\nfile 2097152\nkernel_stack 16384\npgfault 1234\nnot-a-number x\n\n";

        var stat = CgroupStatsParser.ParseFlatKeyed(memoryStat);

        Assert.Equal(4, stat.Count);
        Assert.Equal(1048576UL, stat["anon"]);
        Assert.Equal(2097152UL, stat["file"]);
        Assert.Equal(1234UL, stat["pgfault"]);
    }

    [Fact]
    public void MemoryEventsAreParsed()
    {
        var events = CgroupStatsParser.ToMemoryEvents(CgroupStatsParser.ParseFlatKeyed("low 0\nhigh 3\nmax 7\noom 2\noom_kill 1\noom_group_kill 0\n"));

        Assert.Equal(3UL, events.High);
        Assert.Equal(7UL, events.Max);
        Assert.Equal(2UL, events.Oom);
        Assert.Equal(1UL, events.OomKill);
    }

    [Theory]
    [InlineData("max\n", 0UL)]
    [InlineData("104857600\n", 104857600UL)]
    [InlineData("  42  ", 42UL)]
    [InlineData("", 0UL)]
    public void SingleValuesTreatMaxAsNoLimit(string text, ulong expected)
    {
        Assert.Equal(expected, CgroupStatsParser.ParseSingleValue(text));
    }

    [Fact]
    public void IoStatHasOneEntryPerDevice()
    {
        const string ioStat = "253:0 rbytes=1024 wbytes=2048 rios=3 wios=4 dbytes=0 dios=0\n8:16 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\nbogus line\n";

        var entries = CgroupStatsParser.ParseIoStat(ioStat);

        Assert.Equal(2, entries.Count);
        Assert.Equal((253UL, 0UL, 1024UL, 2048UL, 3UL, 4UL), (entries[0].Major, entries[0].Minor, entries[0].Rbytes, entries[0].Wbytes, entries[0].Rios, entries[0].Wios));
        Assert.Equal((8UL, 16UL, 10UL, 20UL), (entries[1].Major, entries[1].Minor, entries[1].Rbytes, entries[1].Wbytes));
    }

    [Fact]
    public void ProcNetDevSkipsHeadersAndLoopback()
    {
        const string netDev = """
            Inter-|   Receive                                                |  Transmit
             face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
                lo:     100       2    0    0    0     0          0         0      100       2    0    0    0     0       0          0
              eth0: 529545501   15987    1    2    0     0          0         0   634467    8520    3    4    0     0       0          0
            """;

        var stats = NetDevParser.Parse(netDev);

        var eth0 = Assert.Single(stats);
        Assert.Equal("eth0", eth0.Name);
        Assert.Equal((529545501UL, 15987UL, 1UL, 2UL), (eth0.RxBytes, eth0.RxPackets, eth0.RxErrors, eth0.RxDropped));
        Assert.Equal((634467UL, 8520UL, 3UL, 4UL), (eth0.TxBytes, eth0.TxPackets, eth0.TxErrors, eth0.TxDropped));
        Assert.Equal(2, NetDevParser.Parse(netDev, includeLoopback: true).Count);
    }

    [Fact]
    public void ReaderReportsAContainerCgroupFromItsFiles()
    {
        var dir = Directory.CreateTempSubdirectory("cgroup-test").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "cpu.stat"), "usage_usec 9\n");
            File.WriteAllText(Path.Combine(dir, "memory.current"), "4096\n");
            File.WriteAllText(Path.Combine(dir, "memory.max"), "max\n");
            File.WriteAllText(Path.Combine(dir, "memory.stat"), "anon 1\n");
            File.WriteAllText(Path.Combine(dir, "memory.events"), "oom_kill 2\n");
            File.WriteAllText(Path.Combine(dir, "pids.current"), "3\n");
            File.WriteAllText(Path.Combine(dir, "pids.max"), "100\n");
            File.WriteAllText(Path.Combine(dir, "net-dev"), "  eth0: 1 2 0 0 0 0 0 0 3 4 0 0 0 0 0 0\n");

            var stats = CgroupStatsReader.Read(dir, Path.Combine(dir, "net-dev"));

            Assert.Equal(9UL, stats.Cpu.UsageUsec);
            Assert.Equal(4096UL, stats.Memory.Usage);
            Assert.Equal(0UL, stats.Memory.Limit);
            Assert.Equal(0UL, stats.Memory.SwapUsage);
            Assert.Equal(1UL, stats.Memory.Stat["anon"]);
            Assert.Equal(2UL, stats.MemoryEvents.OomKill);
            Assert.Equal((3UL, 100UL), (stats.Pids.Current, stats.Pids.Limit));
            Assert.Empty(stats.Io);
            Assert.Equal("eth0", Assert.Single(stats.Network).Name);
            Assert.Equal(2UL, CgroupStatsReader.ReadOomKills(dir));
            Assert.Equal(0UL, CgroupStatsReader.ReadOomKills(null));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}

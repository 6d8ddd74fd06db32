using KataSharp.Protocol.Agent.V1;

namespace KataSharp.Agent.Stats;

/// <summary>Reads a container's cgroup v2 files into the StatsContainer answer. Missing files read as empty.</summary>
internal static class CgroupStatsReader
{
    public static StatsContainerResponse Read(string? cgroupDir, string procNetDev = "/proc/net/dev")
    {
        var response = new StatsContainerResponse();
        if (cgroupDir is not null)
        {
            response.Cpu = CgroupStatsParser.ToCpuStats(CgroupStatsParser.ParseFlatKeyed(ReadFile(cgroupDir, "cpu.stat")));
            var memory = new MemoryStats
            {
                Usage = CgroupStatsParser.ParseSingleValue(ReadFile(cgroupDir, "memory.current")),
                Limit = CgroupStatsParser.ParseSingleValue(ReadFile(cgroupDir, "memory.max")),
                SwapUsage = CgroupStatsParser.ParseSingleValue(ReadFile(cgroupDir, "memory.swap.current")),
                SwapLimit = CgroupStatsParser.ParseSingleValue(ReadFile(cgroupDir, "memory.swap.max")),
            };
            foreach (var (key, value) in CgroupStatsParser.ParseFlatKeyed(ReadFile(cgroupDir, "memory.stat")))
            {
                memory.Stat[key] = value;
            }

            response.Memory = memory;
            response.MemoryEvents = CgroupStatsParser.ToMemoryEvents(CgroupStatsParser.ParseFlatKeyed(ReadFile(cgroupDir, "memory.events")));
            response.Pids = new PidsStats
            {
                Current = CgroupStatsParser.ParseSingleValue(ReadFile(cgroupDir, "pids.current")),
                Limit = CgroupStatsParser.ParseSingleValue(ReadFile(cgroupDir, "pids.max")),
            };
            response.Io.AddRange(CgroupStatsParser.ParseIoStat(ReadFile(cgroupDir, "io.stat")));
        }

        response.Network.AddRange(NetDevParser.Parse(ReadFile(Path.GetDirectoryName(procNetDev)!, Path.GetFileName(procNetDev))));
        return response;
    }

    /// <summary>The oom_kill counter of memory.events; 0 when there is none.</summary>
    public static ulong ReadOomKills(string? cgroupDir) =>
        cgroupDir is null ? 0 : CgroupStatsParser.ParseFlatKeyed(ReadFile(cgroupDir, "memory.events")).GetValueOrDefault("oom_kill");

    private static string ReadFile(string dir, string name)
    {
        try
        {
            return File.ReadAllText(Path.Combine(dir, name));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return string.Empty;
        }
    }
}

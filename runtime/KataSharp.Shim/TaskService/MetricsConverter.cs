using StatsContainerResponse = KataSharp.Protocol.Agent.V1.StatsContainerResponse;
using KataSharp.Protocol.Containerd.Cgroups.V2;

namespace KataSharp.Shim.TaskService;

/// <summary>
/// Turns the guest's cgroup v2 statistics into containerd's io.containerd.cgroups.v2.Metrics,
/// the type that ctr task metrics and CRI's ListContainerStats decode.
/// </summary>
internal static class MetricsConverter
{
    public static Metrics ToMetrics(StatsContainerResponse stats)
    {
        var metrics = new Metrics();
        if (stats.Pids is { } pids)
        {
            metrics.Pids = new PidsStat { Current = pids.Current, Limit = pids.Limit };
        }

        if (stats.Cpu is { } cpu)
        {
            metrics.Cpu = new CPUStat
            {
                UsageUsec = cpu.UsageUsec,
                UserUsec = cpu.UserUsec,
                SystemUsec = cpu.SystemUsec,
                NrPeriods = cpu.NrPeriods,
                NrThrottled = cpu.NrThrottled,
                ThrottledUsec = cpu.ThrottledUsec,
            };
        }

        if (stats.Memory is { } memory)
        {
            ulong Stat(string key) => memory.Stat.TryGetValue(key, out var v) ? v : 0;
            metrics.Memory = new MemoryStat
            {
                Usage = memory.Usage,
                UsageLimit = memory.Limit,
                SwapUsage = memory.SwapUsage,
                SwapLimit = memory.SwapLimit,
                Anon = Stat("anon"),
                File = Stat("file"),
                KernelStack = Stat("kernel_stack"),
                Slab = Stat("slab"),
                Sock = Stat("sock"),
                Shmem = Stat("shmem"),
                FileMapped = Stat("file_mapped"),
                FileDirty = Stat("file_dirty"),
                FileWriteback = Stat("file_writeback"),
                AnonThp = Stat("anon_thp"),
                InactiveAnon = Stat("inactive_anon"),
                ActiveAnon = Stat("active_anon"),
                InactiveFile = Stat("inactive_file"),
                ActiveFile = Stat("active_file"),
                Unevictable = Stat("unevictable"),
                SlabReclaimable = Stat("slab_reclaimable"),
                SlabUnreclaimable = Stat("slab_unreclaimable"),
                Pgfault = Stat("pgfault"),
                Pgmajfault = Stat("pgmajfault"),
                WorkingsetRefault = Stat("workingset_refault"),
                WorkingsetActivate = Stat("workingset_activate"),
                WorkingsetNodereclaim = Stat("workingset_nodereclaim"),
                Pgrefill = Stat("pgrefill"),
                Pgscan = Stat("pgscan"),
                Pgsteal = Stat("pgsteal"),
                Pgactivate = Stat("pgactivate"),
                Pgdeactivate = Stat("pgdeactivate"),
                Pglazyfree = Stat("pglazyfree"),
                Pglazyfreed = Stat("pglazyfreed"),
                ThpFaultAlloc = Stat("thp_fault_alloc"),
                ThpCollapseAlloc = Stat("thp_collapse_alloc"),
            };
        }

        if (stats.MemoryEvents is { } events)
        {
            metrics.MemoryEvents = new MemoryEvents { Low = events.Low, High = events.High, Max = events.Max, Oom = events.Oom, OomKill = events.OomKill };
        }

        if (stats.Io.Count > 0)
        {
            metrics.Io = new IOStat();
            foreach (var entry in stats.Io)
            {
                metrics.Io.Usage.Add(new IOEntry { Major = entry.Major, Minor = entry.Minor, Rbytes = entry.Rbytes, Wbytes = entry.Wbytes, Rios = entry.Rios, Wios = entry.Wios });
            }
        }

        return metrics;
    }
}

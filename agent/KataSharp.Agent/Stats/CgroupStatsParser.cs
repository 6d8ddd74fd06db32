using System.Globalization;
using KataSharp.Protocol.Agent.V1;

namespace KataSharp.Agent.Stats;

/// <summary>Parsers for the cgroup v2 interface files the agent reports.</summary>
internal static class CgroupStatsParser
{
    /// <summary>"key value" lines (cpu.stat, memory.stat, memory.events); unparsable lines are skipped.</summary>
    public static Dictionary<string, ulong> ParseFlatKeyed(string text)
    {
        var values = new Dictionary<string, ulong>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var space = line.IndexOf(' ');
            if (space > 0 && ulong.TryParse(line.AsSpan(space + 1).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var value))
            {
                values[line[..space]] = value;
            }
        }

        return values;
    }

    /// <summary>A single-value file such as memory.current or memory.max; "max" (no limit) is 0.</summary>
    public static ulong ParseSingleValue(string text)
    {
        var trimmed = text.Trim();
        return trimmed == "max" || !ulong.TryParse(trimmed, NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? 0 : value;
    }

    /// <summary>io.stat: "MAJ:MIN rbytes=.. wbytes=.. rios=.. wios=.. dbytes=.. dios=.." per device.</summary>
    public static List<IoEntry> ParseIoStat(string text)
    {
        var entries = new List<IoEntry>();
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var device = fields[0].Split(':');
            if (device.Length != 2
                || !ulong.TryParse(device[0], CultureInfo.InvariantCulture, out var major)
                || !ulong.TryParse(device[1], CultureInfo.InvariantCulture, out var minor))
            {
                continue;
            }

            var entry = new IoEntry { Major = major, Minor = minor };
            foreach (var field in fields.Skip(1))
            {
                var eq = field.IndexOf('=');
                if (eq <= 0 || !ulong.TryParse(field.AsSpan(eq + 1), CultureInfo.InvariantCulture, out var value))
                {
                    continue;
                }

                switch (field[..eq])
                {
                    case "rbytes": entry.Rbytes = value; break;
                    case "wbytes": entry.Wbytes = value; break;
                    case "rios": entry.Rios = value; break;
                    case "wios": entry.Wios = value; break;
                }
            }

            entries.Add(entry);
        }

        return entries;
    }

    public static CpuStats ToCpuStats(IReadOnlyDictionary<string, ulong> cpuStat) => new()
    {
        UsageUsec = cpuStat.GetValueOrDefault("usage_usec"),
        UserUsec = cpuStat.GetValueOrDefault("user_usec"),
        SystemUsec = cpuStat.GetValueOrDefault("system_usec"),
        NrPeriods = cpuStat.GetValueOrDefault("nr_periods"),
        NrThrottled = cpuStat.GetValueOrDefault("nr_throttled"),
        ThrottledUsec = cpuStat.GetValueOrDefault("throttled_usec"),
    };

    public static MemoryEvents ToMemoryEvents(IReadOnlyDictionary<string, ulong> events) => new()
    {
        Low = events.GetValueOrDefault("low"),
        High = events.GetValueOrDefault("high"),
        Max = events.GetValueOrDefault("max"),
        Oom = events.GetValueOrDefault("oom"),
        OomKill = events.GetValueOrDefault("oom_kill"),
    };
}

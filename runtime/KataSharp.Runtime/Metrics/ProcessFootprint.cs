using System.Globalization;

namespace KataSharp.Runtime.Metrics;

/// <summary>What a host process (a VMM) costs, from /proc: CPU time, and resident and proportional memory.</summary>
public sealed record ProcessFootprint(double CpuSeconds, long RssBytes, long PssBytes)
{
    /// <summary>USER_HZ: the unit of /proc/pid/stat's times, 100 on every Linux ABI .NET runs on.</summary>
    private const double ClockTicks = 100;

    /// <summary>Null when the process is gone or /proc cannot be read.</summary>
    public static ProcessFootprint? Read(int pid, string proc = "/proc")
    {
        try
        {
            var stat = File.ReadAllText(Path.Combine(proc, pid.ToString(CultureInfo.InvariantCulture), "stat"));
            var rollup = File.ReadAllText(Path.Combine(proc, pid.ToString(CultureInfo.InvariantCulture), "smaps_rollup"));
            return Parse(stat, rollup);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }
    }

    /// <exception cref="FormatException">Not /proc/pid/stat and smaps_rollup text.</exception>
    public static ProcessFootprint Parse(string stat, string smapsRollup)
    {
        // The command name (field 2) may hold spaces and parentheses: the fields after it start past the last ')'.
        var close = stat.LastIndexOf(')');
        var fields = close < 0 ? [] : stat[(close + 2)..].Split(' ');
        if (fields.Length < 13
            || !long.TryParse(fields[11], NumberStyles.None, CultureInfo.InvariantCulture, out var utime)
            || !long.TryParse(fields[12], NumberStyles.None, CultureInfo.InvariantCulture, out var stime))
        {
            throw new FormatException("not /proc/pid/stat");
        }

        return new ProcessFootprint((utime + stime) / ClockTicks, KiB(smapsRollup, "Rss:"), KiB(smapsRollup, "Pss:"));
    }

    private static long KiB(string rollup, string key)
    {
        foreach (var line in rollup.Split('\n'))
        {
            if (line.StartsWith(key, StringComparison.Ordinal)
                && long.TryParse(line[key.Length..].Trim().Split(' ')[0], NumberStyles.None, CultureInfo.InvariantCulture, out var kib))
            {
                return kib * 1024;
            }
        }

        throw new FormatException($"smaps_rollup has no {key}");
    }
}

using System.Globalization;

namespace KataSharp.Agent.Cpus;

/// <summary>The kernel's CPU list format (/sys/devices/system/cpu/online, cpuset.cpus): "0-3,5".</summary>
internal static class CpuList
{
    /// <summary>The CPUs listed, ascending, each once; parts that are not a number or a range are skipped.</summary>
    public static IReadOnlyList<int> Parse(string list)
    {
        var cpus = new SortedSet<int>();
        foreach (var part in list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var range = part.Split('-');
            if (range.Length == 2 && int.TryParse(range[0], NumberStyles.None, CultureInfo.InvariantCulture, out var from)
                && int.TryParse(range[1], NumberStyles.None, CultureInfo.InvariantCulture, out var to) && to >= from
                // A bound no kernel writes (NR_CPUS is at most 8192): a range past it is not a CPU list.
                && to < MaxCpus)
            {
                cpus.UnionWith(Enumerable.Range(from, to - from + 1));
            }
            else if (range.Length == 1 && int.TryParse(range[0], NumberStyles.None, CultureInfo.InvariantCulture, out var cpu) && cpu < MaxCpus)
            {
                cpus.Add(cpu);
            }
        }

        return [.. cpus];
    }

    private const int MaxCpus = 8192;
}

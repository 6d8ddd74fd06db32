using System.Globalization;
using KataSharp.Protocol.Agent.V1;

namespace KataSharp.Agent.Stats;

/// <summary>The guest's memory as /proc/meminfo counts it ("MemTotal:  503244 kB"), in bytes.</summary>
internal static class MemInfoParser
{
    public const string Path = "/proc/meminfo";

    public static GuestMemoryResponse Parse(string meminfo)
    {
        var response = new GuestMemoryResponse();
        foreach (var line in meminfo.Split('\n'))
        {
            var colon = line.IndexOf(':');
            if (colon <= 0)
            {
                continue;
            }

            var rest = line[(colon + 1)..].Trim();
            var unit = rest.EndsWith(" kB", StringComparison.Ordinal) ? 1024UL : 1UL;
            if (!ulong.TryParse(unit == 1 ? rest : rest[..^3].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var value))
            {
                continue;
            }

            switch (line[..colon])
            {
                case "MemTotal":
                    response.TotalBytes = value * unit;
                    break;
                case "MemFree":
                    response.FreeBytes = value * unit;
                    break;
                case "MemAvailable":
                    response.AvailableBytes = value * unit;
                    break;
                case "Cached":
                    response.CachedBytes = value * unit;
                    break;
            }
        }

        return response;
    }
}

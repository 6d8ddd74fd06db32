using System.Globalization;
using KataSharp.Protocol.Agent.V1;

namespace KataSharp.Agent.Stats;

/// <summary>Parses /proc/net/dev. Containers share the guest's network, so these are the pod's counters.</summary>
internal static class NetDevParser
{
    public static List<NetworkStats> Parse(string text, bool includeLoopback = false)
    {
        var stats = new List<NetworkStats>();
        foreach (var line in text.Split('\n'))
        {
            // "  eth0: 1234 10 0 0 0 0 0 0 5678 20 0 0 0 0 0 0" (the two header lines have no ':' before '|')
            var colon = line.IndexOf(':');
            if (colon < 0 || line.Contains('|'))
            {
                continue;
            }

            var name = line[..colon].Trim();
            var fields = line[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 16 || (name == "lo" && !includeLoopback))
            {
                continue;
            }

            ulong F(int i) => ulong.TryParse(fields[i], NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : 0;
            stats.Add(new NetworkStats
            {
                Name = name,
                RxBytes = F(0),
                RxPackets = F(1),
                RxErrors = F(2),
                RxDropped = F(3),
                TxBytes = F(8),
                TxPackets = F(9),
                TxErrors = F(10),
                TxDropped = F(11),
            });
        }

        return stats;
    }
}

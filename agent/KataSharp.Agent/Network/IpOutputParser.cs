using System.Globalization;
using KataSharp.Protocol.Agent.V1;

namespace KataSharp.Agent.Network;

/// <summary>Parses busybox `ip -o addr show` and `ip route show` output.</summary>
internal static class IpOutputParser
{
    /// <summary>"2: eth0    inet 10.0.0.2/24 brd ... scope global eth0\ ..." lines, grouped by link name.</summary>
    public static Dictionary<string, List<IpAddress>> ParseAddresses(string text)
    {
        var byLink = new Dictionary<string, List<IpAddress>>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var tokens = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (tokens.Length < 4)
            {
                continue;
            }

            var name = tokens[1].Split('@')[0];
            var family = tokens[2] switch
            {
                "inet" => IpFamily.Ipv4,
                "inet6" => IpFamily.Ipv6,
                _ => (IpFamily?)null,
            };
            if (family is null)
            {
                continue;
            }

            var cidr = tokens[3].Split('/');
            var prefix = cidr.Length == 2 && uint.TryParse(cidr[1], CultureInfo.InvariantCulture, out var p) ? p : (family == IpFamily.Ipv4 ? 32u : 128u);
            if (!byLink.TryGetValue(name, out var list))
            {
                byLink[name] = list = [];
            }

            list.Add(new IpAddress { Family = family.Value, Address = cidr[0], PrefixLength = prefix });
        }

        return byLink;
    }

    /// <summary>`ip route show` lines; special routes (local, broadcast, multicast, unreachable) are skipped.</summary>
    public static List<Route> ParseRoutes(string text, IpFamily family)
    {
        var routes = new List<Route>();
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var tokens = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (tokens.Length == 0 || tokens[0] is "local" or "broadcast" or "multicast" or "unreachable" or "prohibit" or "blackhole" or "throw" or "anycast")
            {
                continue;
            }

            var route = new Route { Destination = tokens[0] == "default" ? string.Empty : tokens[0], Family = family };
            for (var i = 1; i < tokens.Length - 1; i++)
            {
                var value = tokens[i + 1];
                switch (tokens[i])
                {
                    case "via":
                        route.Gateway = value;
                        i++;
                        break;
                    case "dev":
                        route.Device = value;
                        i++;
                        break;
                    case "src":
                        route.Source = value;
                        i++;
                        break;
                    case "scope":
                        route.Scope = ScopeNumber(value);
                        i++;
                        break;
                    case "mtu":
                        if (value == "lock" && i + 2 < tokens.Length)
                        {
                            value = tokens[i + 2];
                            i++;
                        }

                        route.Mtu = uint.TryParse(value, CultureInfo.InvariantCulture, out var mtu) ? mtu : 0;
                        i++;
                        break;
                }
            }

            routes.Add(route);
        }

        return routes;
    }

    public static uint ScopeNumber(string scope) => scope switch
    {
        "global" or "universe" => 0,
        "site" => 200,
        "link" => 253,
        "host" => 254,
        "nowhere" => 255,
        _ => uint.TryParse(scope, CultureInfo.InvariantCulture, out var n) ? n : 0,
    };

    public static string ScopeName(uint scope) => scope switch
    {
        0 => "global",
        200 => "site",
        253 => "link",
        254 => "host",
        _ => scope.ToString(CultureInfo.InvariantCulture),
    };
}

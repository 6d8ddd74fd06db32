using System.Globalization;
using System.Net;
using System.Text.Json;

namespace KataSharp.Runtime.Network;

/// <summary>Turns iproute2's JSON output (<c>ip -j -d addr</c>, <c>ip -j route</c>, <c>ip -j neigh</c>, <c>tc -j qdisc</c>) into the snapshot model.</summary>
public static class IpJsonParser
{
    /// <exception cref="NetworkException">The text is not the JSON ip prints.</exception>
    public static IReadOnlyList<NetnsLink> ParseLinks(string json) =>
        Deserialize(json, IpJsonContext.Default.ListIpLinkJson, "ip -j addr").Select(link => new NetnsLink(
            link.Index,
            link.Name,
            link.Address.ToLowerInvariant(),
            link.Mtu,
            link.LinkInfo?.Kind ?? "",
            link.LinkType,
            link.Flags.Contains("UP"),
            link.AddrInfo
                .Where(a => a.Family is "inet" or "inet6" && IPAddress.TryParse(a.Local, out _))
                .Select(a => new NetnsAddress(IPAddress.Parse(a.Local), a.PrefixLength))
                .ToList())).ToList();

    /// <param name="ipv6">Whether the text came from <c>ip -6 route</c> (the JSON does not say).</param>
    public static IReadOnlyList<NetnsRoute> ParseRoutes(string json, bool ipv6) =>
        Deserialize(json, IpJsonContext.Default.ListIpRouteJson, "ip -j route").Select(route => new NetnsRoute(
            route.Destination == "default" ? "" : WithPrefix(route.Destination, ipv6),
            route.Gateway ?? "",
            route.Device ?? "",
            route.PreferredSource ?? "",
            ScopeNumber(route.Scope),
            ipv6,
            route.Protocol ?? "boot",
            RouteMtu(route),
            route.Type ?? "unicast")).ToList();

    public static IReadOnlyList<NetnsNeighbor> ParseNeighbors(string json) =>
        Deserialize(json, IpJsonContext.Default.ListIpNeighJson, "ip -j neigh")
            .Where(n => n.LinkAddress is { Length: > 0 } && n.Device is { Length: > 0 })
            .Select(n => new NetnsNeighbor(n.Destination, n.LinkAddress!.ToLowerInvariant(), n.Device!, n.State.Contains("PERMANENT")))
            .ToList();

    /// <summary>The devices that have an ingress qdisc, from <c>tc -j qdisc show</c>.</summary>
    public static IReadOnlySet<string> ParseIngressQdiscDevices(string json) =>
        Deserialize(json, IpJsonContext.Default.ListTcQdiscJson, "tc -j qdisc")
            .Where(q => q.Kind is "ingress" or "clsact")
            .Select(q => q.Device)
            .ToHashSet(StringComparer.Ordinal);

    /// <summary>rtnetlink scope names as ip prints them, or a number.</summary>
    public static uint ScopeNumber(string? scope) => scope switch
    {
        null or "" or "global" or "universe" => 0,
        "site" => 200,
        "link" => 253,
        "host" => 254,
        "nowhere" => 255,
        _ => uint.TryParse(scope, CultureInfo.InvariantCulture, out var n) ? n : 0,
    };

    /// <summary>ip prints a host route's destination without its /32 (or /128); the guest wants a CIDR.</summary>
    private static string WithPrefix(string destination, bool ipv6) =>
        destination.Contains('/', StringComparison.Ordinal) ? destination : $"{destination}/{(ipv6 ? 128 : 32)}";

    private static uint RouteMtu(IpRouteJson route)
    {
        foreach (var metrics in route.Metrics ?? [])
        {
            if (metrics.TryGetValue("mtu", out var mtu) && mtu.ValueKind == JsonValueKind.Number && mtu.TryGetUInt32(out var value))
            {
                return value;
            }
        }

        return 0;
    }

    private static List<T> Deserialize<T>(string json, System.Text.Json.Serialization.Metadata.JsonTypeInfo<List<T>> type, string what)
    {
        // ip prints nothing at all (not "[]") for some empty tables.
        if (string.IsNullOrWhiteSpace(json))
        {
            return [];
        }

        try
        {
            return JsonSerializer.Deserialize(json, type) ?? [];
        }
        catch (JsonException e)
        {
            throw new NetworkException($"cannot parse the output of {what}: {e.Message}", NetworkErrorKind.Internal, e);
        }
    }
}

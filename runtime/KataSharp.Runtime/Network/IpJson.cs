using System.Text.Json;
using System.Text.Json.Serialization;

namespace KataSharp.Runtime.Network;

// The shapes of iproute2's `-j` output (iproute2 6.1). Only the fields we use; ip adds fields over time
// and omits ones that have their default value (e.g. a route's "protocol" when it is "boot").

internal sealed class IpLinkJson
{
    [JsonPropertyName("ifindex")] public int Index { get; set; }
    [JsonPropertyName("ifname")] public string Name { get; set; } = "";
    [JsonPropertyName("flags")] public List<string> Flags { get; set; } = [];
    [JsonPropertyName("mtu")] public int Mtu { get; set; }
    [JsonPropertyName("link_type")] public string LinkType { get; set; } = "";
    [JsonPropertyName("address")] public string Address { get; set; } = "";
    [JsonPropertyName("linkinfo")] public IpLinkInfoJson? LinkInfo { get; set; }
    [JsonPropertyName("addr_info")] public List<IpAddrInfoJson> AddrInfo { get; set; } = [];
}

internal sealed class IpLinkInfoJson
{
    [JsonPropertyName("info_kind")] public string Kind { get; set; } = "";
}

internal sealed class IpAddrInfoJson
{
    [JsonPropertyName("family")] public string Family { get; set; } = "";
    [JsonPropertyName("local")] public string Local { get; set; } = "";
    [JsonPropertyName("prefixlen")] public int PrefixLength { get; set; }
    [JsonPropertyName("scope")] public string Scope { get; set; } = "";
}

internal sealed class IpRouteJson
{
    [JsonPropertyName("type")] public string? Type { get; set; }
    [JsonPropertyName("dst")] public string Destination { get; set; } = "";
    [JsonPropertyName("gateway")] public string? Gateway { get; set; }
    [JsonPropertyName("dev")] public string? Device { get; set; }
    [JsonPropertyName("protocol")] public string? Protocol { get; set; }
    [JsonPropertyName("scope")] public string? Scope { get; set; }
    [JsonPropertyName("prefsrc")] public string? PreferredSource { get; set; }
    [JsonPropertyName("metric")] public long? Metric { get; set; }
    [JsonPropertyName("metrics")] public List<Dictionary<string, JsonElement>>? Metrics { get; set; }
}

internal sealed class IpNeighJson
{
    [JsonPropertyName("dst")] public string Destination { get; set; } = "";
    [JsonPropertyName("dev")] public string? Device { get; set; }
    [JsonPropertyName("lladdr")] public string? LinkAddress { get; set; }
    [JsonPropertyName("state")] public List<string> State { get; set; } = [];
}

internal sealed class TcQdiscJson
{
    [JsonPropertyName("kind")] public string Kind { get; set; } = "";
    [JsonPropertyName("dev")] public string Device { get; set; } = "";
    [JsonPropertyName("handle")] public string Handle { get; set; } = "";
}

[JsonSourceGenerationOptions(ReadCommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true)]
[JsonSerializable(typeof(List<IpLinkJson>))]
[JsonSerializable(typeof(List<IpRouteJson>))]
[JsonSerializable(typeof(List<IpNeighJson>))]
[JsonSerializable(typeof(List<TcQdiscJson>))]
internal sealed partial class IpJsonContext : JsonSerializerContext;

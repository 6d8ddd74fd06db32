using System.Text.Json.Serialization;

namespace KataSharp.Runtime.Network;

/// <summary>How to take back one thing the network set-up made.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<UndoAction>))]
public enum UndoAction
{
    /// <summary><c>ip link del dev Target</c> (a tap, or the host end of a veth pair: its peer goes with it).</summary>
    DeleteLink,

    /// <summary><c>tc qdisc del dev Target ingress</c> (its filters go with it).</summary>
    DeleteIngressQdisc,

    /// <summary><c>tc filter del dev Target parent ffff: pref Arguments[0]</c>, for an ingress qdisc that was there before us.</summary>
    DeleteIngressFilter,

    /// <summary><c>ip netns del Target</c>.</summary>
    DeleteNetns,

    /// <summary><c>iptables -t Target -D Arguments...</c>.</summary>
    DeleteIptablesRule,

    /// <summary><c>ip link set dev Target down</c>, for a link that was down before we brought it up.</summary>
    SetLinkDown,
}

/// <summary>
/// One entry of the undo log. It is data, not a command line, so that network.json can be read back by another
/// process (katasharp rm, a restarted shim) and only these few, known operations can ever be replayed from it.
/// </summary>
/// <param name="Netns">The namespace the object lives in (null: the host's).</param>
public sealed record UndoStep(UndoAction Action, string? Netns, string Target, IReadOnlyList<string>? Arguments = null)
{
    [JsonIgnore]
    public IReadOnlyList<string> Command => Action switch
    {
        UndoAction.DeleteLink => ["ip", "link", "del", "dev", Target],
        UndoAction.DeleteIngressQdisc => ["tc", "qdisc", "del", "dev", Target, "ingress"],
        UndoAction.DeleteIngressFilter => ["tc", "filter", "del", "dev", Target, "parent", "ffff:", "pref", Arguments is [var pref, ..] ? pref : "0"],
        UndoAction.DeleteNetns => ["ip", "netns", "del", Target],
        UndoAction.DeleteIptablesRule => ["iptables", "-w", "5", "-t", Target, "-D", .. Arguments ?? []],
        UndoAction.SetLinkDown => ["ip", "link", "set", "dev", Target, "down"],
        _ => throw new NetworkException($"unknown undo action {Action}"),
    };

    /// <summary>
    /// Whether a failure means the object is already gone, which is what undoing wanted: a tap deleted with its
    /// namespace, a rule someone flushed, a second teardown. The texts are iproute2's, nsenter's and iptables'.
    /// </summary>
    public static bool MeansAlreadyGone(string stderr) =>
        stderr.Contains("Cannot find device", StringComparison.Ordinal)
        || stderr.Contains("does not exist", StringComparison.Ordinal)
        || stderr.Contains("No such file or directory", StringComparison.Ordinal)
        || stderr.Contains("Cannot find specified qdisc", StringComparison.Ordinal)
        || stderr.Contains("Invalid handle", StringComparison.Ordinal)
        || stderr.Contains("Filter with specified priority/protocol not found", StringComparison.Ordinal)
        || stderr.Contains("Cannot find specified filter chain", StringComparison.Ordinal)
        || stderr.Contains("Bad rule", StringComparison.Ordinal)
        || stderr.Contains("No chain/target/match by that name", StringComparison.Ordinal);
}

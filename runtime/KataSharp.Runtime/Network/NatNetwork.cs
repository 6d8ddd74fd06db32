using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;

namespace KataSharp.Runtime.Network;

/// <summary>The names and addresses of one sandbox's private network.</summary>
/// <param name="NetnsDirectory">Where <c>ip netns add</c> puts its namespaces (a parameter only so that tests can fake it).</param>
public sealed record NatNetworkPlan(string SandboxId, IPNetwork Subnet, string NetnsDirectory = NatNetworkPlan.IpNetnsDirectory)
{
    public const string IpNetnsDirectory = "/var/run/netns";

    /// <summary>The link name inside the namespace, as CNI would call it.</summary>
    public const string PodLinkName = "eth0";

    /// <summary><c>ks-&lt;sandbox id&gt;</c>, under /var/run/netns.</summary>
    public string NetnsName => $"ks-{SandboxId}";

    public string NetnsPath => Path.Combine(NetnsDirectory, NetnsName);

    /// <summary>
    /// The host end of the veth: "ksh" and 12 hex digits of the id's SHA-256. Link names have at most 15
    /// characters, and ids (up to 128 characters) may share a long prefix; a hash keeps the name unique and
    /// derivable from the id alone.
    /// </summary>
    public string HostLinkName => "ksh" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(SandboxId)))[..12];

    public IPAddress Gateway => SubnetPool.GatewayOf(Subnet);

    public IPAddress GuestAddress => SubnetPool.GuestAddressOf(Subnet);

    /// <summary>The comment that marks our iptables rules, so that an operator can see whose they are.</summary>
    public string RuleComment => $"katasharp:{SandboxId}";
}

/// <summary>
/// A network for a sandbox nobody else provides one for (<c>katasharp run</c>): a namespace <c>ks-&lt;id&gt;</c>
/// with a veth whose namespace end (eth0) has the subnet's .2 and whose host end has .1, the default route via
/// .1, and, where the host has iptables, a MASQUERADE rule so that the guest reaches what the host reaches.
/// The namespace then looks just like a CNI pod's, and <see cref="TcMirrorNetwork"/> joins the VM to it.
/// </summary>
public sealed partial class NatNetwork
{
    private readonly INetnsCommandRunner _runner;
    private readonly IHostSysctl _sysctl;
    private readonly ILogger _logger;

    public NatNetwork(INetnsCommandRunner runner, ILogger logger, IHostSysctl? sysctl = null)
    {
        _runner = runner;
        _logger = logger;
        _sysctl = sysctl ?? HostSysctl.Instance;
    }

    /// <summary>Creates the namespace and veth, logging each undo step first; on failure the caller undoes.</summary>
    /// <returns>Whether NAT to the outside is in place (a missing iptables only costs that, with a warning).</returns>
    /// <exception cref="NetworkException">The namespace or veth could not be made.</exception>
    public async Task<bool> CreateAsync(NatNetworkPlan plan, NetworkUndoLog undo, CancellationToken cancellationToken)
    {
        var prefix = plan.Subnet.PrefixLength.ToString(CultureInfo.InvariantCulture);
        var host = plan.HostLinkName;

        undo.Add(new UndoStep(UndoAction.DeleteNetns, null, plan.NetnsName));
        await _runner.RunCheckedAsync(null, ["ip", "netns", "add", plan.NetnsName], cancellationToken, NetworkErrorKind.FailedPrecondition).ConfigureAwait(false);

        // Deleting the host end deletes the namespace end too.
        undo.Add(new UndoStep(UndoAction.DeleteLink, null, host));
        await _runner.RunCheckedAsync(null, ["ip", "link", "add", host, "type", "veth", "peer", "name", NatNetworkPlan.PodLinkName, "netns", plan.NetnsName],
            cancellationToken).ConfigureAwait(false);
        // The two ends and the NAT rules do not depend on each other: configure them side by side, since every
        // command is a process start on the sandbox's critical path. WhenAll lets all three finish before a failure
        // surfaces, so the caller's undo never races a step still running.
        var hostEnd = ConfigureHostEndAsync(plan, prefix, cancellationToken);
        var podEnd = ConfigurePodEndAsync(plan, prefix, cancellationToken);
        var natRules = TryAddNatAsync(plan, undo, cancellationToken);
        await Task.WhenAll(hostEnd, podEnd, natRules).ConfigureAwait(false);
        var nat = await natRules.ConfigureAwait(false);
        LogCreated(_logger, plan.NetnsName, host, plan.GuestAddress.ToString(), plan.Gateway.ToString(), nat ? "with NAT" : "without NAT");
        return nat;
    }

    private async Task ConfigureHostEndAsync(NatNetworkPlan plan, string prefix, CancellationToken cancellationToken)
    {
        await _runner.RunCheckedAsync(null, ["ip", "addr", "add", $"{plan.Gateway}/{prefix}", "dev", plan.HostLinkName], cancellationToken).ConfigureAwait(false);
        await _runner.RunCheckedAsync(null, ["ip", "link", "set", "dev", plan.HostLinkName, "up"], cancellationToken).ConfigureAwait(false);
    }

    private async Task ConfigurePodEndAsync(NatNetworkPlan plan, string prefix, CancellationToken cancellationToken)
    {
        var netns = plan.NetnsPath;
        await _runner.RunCheckedAsync(netns, ["ip", "link", "set", "dev", "lo", "up"], cancellationToken).ConfigureAwait(false);
        await _runner.RunCheckedAsync(netns, ["ip", "addr", "add", $"{plan.GuestAddress}/{prefix}", "dev", NatNetworkPlan.PodLinkName], cancellationToken).ConfigureAwait(false);
        await _runner.RunCheckedAsync(netns, ["ip", "link", "set", "dev", NatNetworkPlan.PodLinkName, "up"], cancellationToken).ConfigureAwait(false);
        await _runner.RunCheckedAsync(netns, ["ip", "route", "add", "default", "via", plan.Gateway.ToString(), "dev", NatNetworkPlan.PodLinkName], cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The iptables rules a plan needs, as arguments after <c>-A</c>/<c>-D</c>: table, then the rule.</summary>
    internal static IReadOnlyList<(string Table, string[] Rule)> NatRules(NatNetworkPlan plan) =>
    [
        ("nat", ["POSTROUTING", "-s", plan.Subnet.ToString(), "!", "-o", plan.HostLinkName, "-m", "comment", "--comment", plan.RuleComment, "-j", "MASQUERADE"]),
        // A FORWARD policy of DROP (Docker sets one) would otherwise stop the guest's traffic before it is masqueraded.
        ("filter", ["FORWARD", "-i", plan.HostLinkName, "-m", "comment", "--comment", plan.RuleComment, "-j", "ACCEPT"]),
        ("filter", ["FORWARD", "-o", plan.HostLinkName, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-m", "comment", "--comment", plan.RuleComment, "-j", "ACCEPT"]),
    ];

    private async Task<bool> TryAddNatAsync(NatNetworkPlan plan, NetworkUndoLog undo, CancellationToken cancellationToken)
    {
        try
        {
            foreach (var (table, rule) in NatRules(plan))
            {
                undo.Add(new UndoStep(UndoAction.DeleteIptablesRule, null, table, rule));
                // -I for FORWARD puts our accept before any DROP rule; -w waits for the xtables lock other tools hold.
                var verb = rule[0] == "FORWARD" ? "-I" : "-A";
                await _runner.RunCheckedAsync(null, ["iptables", "-w", "5", "-t", table, verb, .. rule], cancellationToken).ConfigureAwait(false);
            }
        }
        catch (NetworkException e)
        {
            LogNoNat(_logger, plan.NetnsName, e.Message);
            return false;
        }

        const string forwarding = "net.ipv4.ip_forward";
        if (_sysctl.Read(forwarding) == "1")
        {
            return true;
        }

        try
        {
            // Host-wide, and left on at teardown (as Docker does): other sandboxes, or the host's own set-up, may rely on it.
            _sysctl.Write(forwarding, "1");
            LogForwardingEnabled(_logger);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            LogNoNat(_logger, plan.NetnsName, $"cannot enable {forwarding}: {e.Message}");
            return false;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "network: {Netns} created, {HostLink} <-> eth0 {Guest} via {Gateway}, {Nat}")]
    private static partial void LogCreated(ILogger logger, string netns, string hostLink, string guest, string gateway, string nat);

    [LoggerMessage(Level = LogLevel.Warning, Message = "network: the sandbox in {Netns} reaches only this host, not the outside (no NAT): {Reason}")]
    private static partial void LogNoNat(ILogger logger, string netns, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "network: enabled net.ipv4.ip_forward for the sandboxes' NAT")]
    private static partial void LogForwardingEnabled(ILogger logger);
}

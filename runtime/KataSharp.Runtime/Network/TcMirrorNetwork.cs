using System.Globalization;
using KataSharp.Runtime.Hypervisors;
using Microsoft.Extensions.Logging;

namespace KataSharp.Runtime.Network;

/// <summary>One pod endpoint joined to its tap.</summary>
/// <param name="Endpoint">The CNI link (usually the veth eth0), which keeps its addresses on the host side.</param>
/// <param name="Tap">The tap QEMU opens, in the same namespace.</param>
/// <param name="Mac">The endpoint's MAC, which the guest NIC gets.</param>
public sealed record MirroredInterface(string Endpoint, string Tap, string Mac, int Mtu);

/// <summary>
/// The taps of a namespace, ready for QEMU, and what the guest must configure. What undoes them is in the caller's undo log.
/// <see cref="Mirrored"/> completes when the taps are up and joined to their endpoints; until then no frame passes,
/// which nothing needs before the guest configures its NICs.
/// </summary>
public sealed record TcMirrorAttachment(string NetnsPath, IReadOnlyList<MirroredInterface> Interfaces, GuestNetworkConfig Guest, Task Mirrored)
{
    /// <summary>The tap devices and MACs for <see cref="VmSpec.NetworkInterfaces"/>; QEMU must start in <see cref="NetnsPath"/>.</summary>
    public IReadOnlyList<NetworkInterfaceSpec> Nics => Interfaces.Select(i => new NetworkInterfaceSpec(i.Tap, i.Mac)).ToList();
}

/// <summary>
/// Kata's tcfilter interworking model (virtcontainers/network_linux.go, setupTCFiltering): for each endpoint
/// of the pod namespace a tap with the endpoint's MTU, an ingress qdisc on both, and two u32 filters with a
/// mirred egress redirect (endpoint ingress to tap egress, tap ingress to endpoint egress). The guest NIC gets
/// the endpoint's MAC, so the CNI side (bridge FDB, anti-spoofing) sees the MAC it expects. As in Kata's
/// tcfilter model the endpoint keeps its addresses: every frame arriving on it is stolen by the filter
/// before the namespace's own stack could answer, so nothing conflicts, and CNI DEL finds what it made.
/// </summary>
public sealed partial class TcMirrorNetwork
{
    /// <summary>The filter preference we use, so that our filters can be told apart on a qdisc that was there before us.</summary>
    public const string FilterPref = "49";

    /// <summary>The suffix of our taps (tap0_ks, tap1_ks, ...), also how a scan tells them from pod endpoints.</summary>
    public const string TapSuffix = "_ks";

    private readonly INetnsCommandRunner _runner;
    private readonly ILogger _logger;

    public TcMirrorNetwork(INetnsCommandRunner runner, ILogger logger)
    {
        _runner = runner;
        _logger = logger;
    }

    public static string TapName(int index) => $"tap{index.ToString(CultureInfo.InvariantCulture)}{TapSuffix}";

    /// <summary>
    /// Makes a tap for every endpoint (QEMU opens them, so they must exist before it starts) and starts joining them
    /// (<see cref="TcMirrorAttachment.Mirrored"/>), which may overlap the boot. Every step's undo goes into
    /// <paramref name="undo"/> first; on failure, of either part, the caller undoes.
    /// </summary>
    public async Task<TcMirrorAttachment> AttachAsync(string netnsPath, NetworkUndoLog undo, CancellationToken cancellationToken)
    {
        var scan = new NetnsScanner(_runner).ScanAsync(netnsPath, cancellationToken);
        var qdiscs = File.Exists(netnsPath) ? _runner.RunCheckedAsync(netnsPath, ["tc", "-j", "qdisc", "show"], cancellationToken) : Task.FromResult("");
        await Task.WhenAll(scan, qdiscs).ConfigureAwait(false);
        var snapshot = await scan.ConfigureAwait(false);
        var endpoints = snapshot.Endpoints;
        var ingress = IpJsonParser.ParseIngressQdiscDevices(await qdiscs.ConfigureAwait(false));
        var mirrored = new List<MirroredInterface>();
        for (var i = 0; i < endpoints.Count; i++)
        {
            var endpoint = endpoints[i];
            var tap = TapName(i);
            if (snapshot.FindLink(tap) is not null)
            {
                throw new NetworkException($"{tap} already exists in {netnsPath}: another sandbox uses this network namespace, or a crashed one left it behind",
                    NetworkErrorKind.FailedPrecondition);
            }

            // Deleting the tap takes its qdisc and filters with it. Not multi-queue: QEMU opens it with one queue.
            undo.Add(new UndoStep(UndoAction.DeleteLink, netnsPath, tap));
            await _runner.RunCheckedAsync(netnsPath, ["ip", "tuntap", "add", "dev", tap, "mode", "tap"], cancellationToken).ConfigureAwait(false);
            mirrored.Add(new MirroredInterface(endpoint.Name, tap, endpoint.Mac, endpoint.Mtu));
        }

        if (endpoints.Count == 0)
        {
            LogNoEndpoints(_logger, netnsPath);
        }

        var joined = JoinAllAsync(netnsPath, endpoints, mirrored, ingress, undo, cancellationToken);
        return new TcMirrorAttachment(netnsPath, mirrored, GuestNetworkConfig.From(snapshot, endpoints), joined);
    }

    private async Task JoinAllAsync(string netns, IReadOnlyList<NetnsLink> endpoints, IReadOnlyList<MirroredInterface> mirrored, IReadOnlySet<string> ingress,
        NetworkUndoLog undo, CancellationToken cancellationToken)
    {
        // Off the caller's path: its next step is starting QEMU.
        await Task.Yield();
        for (var i = 0; i < mirrored.Count; i++)
        {
            await JoinAsync(netns, endpoints[i], mirrored[i].Tap, ingress.Contains(endpoints[i].Name), undo, cancellationToken).ConfigureAwait(false);
            LogMirrored(_logger, mirrored[i].Endpoint, mirrored[i].Tap, mirrored[i].Mac, netns);
        }
    }

    private async Task JoinAsync(string netns, NetnsLink endpoint, string tap, bool endpointHasIngress, NetworkUndoLog undo, CancellationToken cancellationToken)
    {
        var mtu = endpoint.Mtu.ToString(CultureInfo.InvariantCulture);
        await _runner.RunCheckedAsync(netns, ["ip", "link", "set", "dev", tap, "mtu", mtu, "up"], cancellationToken).ConfigureAwait(false);

        if (!endpoint.Up)
        {
            undo.Add(new UndoStep(UndoAction.SetLinkDown, netns, endpoint.Name));
            await _runner.RunCheckedAsync(netns, ["ip", "link", "set", "dev", endpoint.Name, "up"], cancellationToken).ConfigureAwait(false);
        }

        if (endpointHasIngress)
        {
            // Someone else's qdisc (e.g. a CNI plugin's): leave it, and take back only our filter.
            undo.Add(new UndoStep(UndoAction.DeleteIngressFilter, netns, endpoint.Name, [FilterPref]));
        }
        else
        {
            undo.Add(new UndoStep(UndoAction.DeleteIngressQdisc, netns, endpoint.Name));
            await _runner.RunCheckedAsync(netns, ["tc", "qdisc", "add", "dev", endpoint.Name, "ingress"], cancellationToken).ConfigureAwait(false);
        }

        await _runner.RunCheckedAsync(netns, ["tc", "qdisc", "add", "dev", tap, "ingress"], cancellationToken).ConfigureAwait(false);
        await _runner.RunCheckedAsync(netns, RedirectFilter(endpoint.Name, tap), cancellationToken).ConfigureAwait(false);
        await _runner.RunCheckedAsync(netns, RedirectFilter(tap, endpoint.Name), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// <c>tc filter add dev FROM parent ffff: protocol all u32 match u8 0 0 action mirred egress redirect dev TO</c>:
    /// every frame that arrives on FROM leaves through TO (Kata's addRedirectTCFilter).
    /// </summary>
    internal static IReadOnlyList<string> RedirectFilter(string from, string to) =>
        ["tc", "filter", "add", "dev", from, "parent", "ffff:", "protocol", "all", "pref", FilterPref,
            "u32", "match", "u8", "0", "0", "action", "mirred", "egress", "redirect", "dev", to];

    [LoggerMessage(Level = LogLevel.Information, Message = "network: {Endpoint} mirrored to {Tap} (guest MAC {Mac}) in {Netns}")]
    private static partial void LogMirrored(ILogger logger, string endpoint, string tap, string mac, string netns);

    [LoggerMessage(Level = LogLevel.Information, Message = "network: {Netns} has no endpoint besides lo; the VM gets no NIC")]
    private static partial void LogNoEndpoints(ILogger logger, string netns);
}

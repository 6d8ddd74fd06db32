using System.Net;
using Microsoft.Extensions.Logging;

namespace KataSharp.Runtime.Network;

/// <summary>
/// The CLI's own network: a free /30 of the pool, a namespace and veth with NAT (<see cref="NatNetwork"/>), and the
/// namespace's eth0 mirrored into the VM exactly as a CNI pod's would be.
/// </summary>
public sealed partial class PrivateNetnsNetworkMode : ISandboxNetworkMode
{
    private static readonly TimeSpan AllocationLockTimeout = TimeSpan.FromSeconds(30);

    private readonly string _sandboxId;
    private readonly string _sandboxDirectory;
    private readonly string _netnsDirectory;
    private readonly INetnsCommandRunner _runner;
    private readonly IHostSysctl _sysctl;
    private readonly ILogger _logger;

    /// <param name="sandboxDirectory">The sandbox's own directory; its parent, the sandboxes directory, is what allocation locks and scans.</param>
    /// <param name="netnsDirectory">Where <c>ip netns add</c> puts namespaces (only tests change it).</param>
    public PrivateNetnsNetworkMode(string sandboxId, string sandboxDirectory, string netnsDirectory, INetnsCommandRunner runner, IHostSysctl sysctl, ILogger logger)
    {
        _sandboxId = sandboxId;
        _sandboxDirectory = sandboxDirectory;
        _netnsDirectory = netnsDirectory;
        _runner = runner;
        _sysctl = sysctl;
        _logger = logger;
    }

    public string RecordName => "nat";

    public async Task<SandboxNetworkAttachment> AttachAsync(NetworkRecord record, NetworkUndoLog undo, Action save, CancellationToken cancellationToken)
    {
        var plan = await AllocateAsync(record, save, cancellationToken).ConfigureAwait(false);
        var nat = await new NatNetwork(_runner, _logger, _sysctl).CreateAsync(plan, undo, cancellationToken).ConfigureAwait(false);
        var attached = await new TcMirrorNetwork(_runner, _logger).AttachAsync(plan.NetnsPath, undo, cancellationToken).ConfigureAwait(false);
        return new SandboxNetworkAttachment(plan.NetnsPath, attached.Nics, attached.Guest, record.GuestAddress, nat) { Completion = attached.Mirrored };
    }

    /// <summary>
    /// Claims the lowest free /30 of the pool. Under an flock on the sandboxes directory, the subnets in use are
    /// the ones the other sandboxes' network.json files hold; writing ours (with its index) is the claim. A
    /// crashed sandbox keeps its subnet until it is removed, which is right: its veth may still be there.
    /// </summary>
    private async Task<NatNetworkPlan> AllocateAsync(NetworkRecord record, Action save, CancellationToken cancellationToken)
    {
        var hostRoutes = await HostRoutesAsync(cancellationToken).ConfigureAwait(false);
        var sandboxes = Path.GetDirectoryName(Path.GetFullPath(_sandboxDirectory).TrimEnd('/'))!;
        using var hold = await DirectoryLock.AcquireAsync(sandboxes, AllocationLockTimeout, cancellationToken).ConfigureAwait(false);
        var used = new HashSet<int>();
        foreach (var directory in Directory.EnumerateDirectories(sandboxes))
        {
            try
            {
                if (NetworkRecordStore.Read(directory) is { SubnetIndex: { } index })
                {
                    used.Add(index);
                }
            }
            catch (NetworkException e)
            {
                // An unreadable record might hold any subnet; we cannot tell which, so we cannot skip it either.
                LogUnreadableRecord(_logger, directory, e.Message);
            }
        }

        var chosen = SubnetPool.Choose(used, hostRoutes)
            ?? throw new NetworkException($"no free /{SubnetPool.SubnetPrefixLength} left in {SubnetPool.Pool} ({used.Count} in use by sandboxes, the rest overlap the host's routes)",
                NetworkErrorKind.ResourceExhausted);
        var plan = new NatNetworkPlan(_sandboxId, SubnetPool.SubnetAt(chosen), _netnsDirectory);
        record.SubnetIndex = chosen;
        record.NetnsPath = plan.NetnsPath;
        record.GuestAddress = $"{plan.GuestAddress}/{SubnetPool.SubnetPrefixLength}";
        save();
        return plan;
    }

    /// <summary>
    /// The host's IPv4 routes, other than the default: a subnet that overlaps one of them would shadow part of the host's
    /// network. Other sandboxes' subnets are among them, so even a veth whose record was lost is not handed out twice.
    /// </summary>
    private async Task<IReadOnlyList<IPNetwork>> HostRoutesAsync(CancellationToken cancellationToken)
    {
        var json = await _runner.RunCheckedAsync(null, ["ip", "-j", "-4", "route", "show", "table", "main"], cancellationToken, NetworkErrorKind.FailedPrecondition).ConfigureAwait(false);
        return IpJsonParser.ParseRoutes(json, ipv6: false)
            .Where(r => r.Destination.Length > 0)
            .Select(r => IPNetwork.TryParse(r.Destination, out var network) ? network : (IPNetwork?)null)
            .OfType<IPNetwork>()
            .ToList();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "network: {Directory} has an unreadable network record: {Reason}")]
    private static partial void LogUnreadableRecord(ILogger logger, string directory, string reason);
}

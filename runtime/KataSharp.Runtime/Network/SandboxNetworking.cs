using System.Net;
using Microsoft.Extensions.Logging;

namespace KataSharp.Runtime.Network;

/// <summary>
/// A sandbox's network from start to end: sets up the host side of a <see cref="SandboxNetworkRequest"/>,
/// recording every step in the sandbox's network.json as it goes, and tears down whatever that file lists.
/// Used by the sandbox manager; the guest side is <see cref="GuestNetworkConfig.ApplyAsync"/>.
/// </summary>
public sealed partial class SandboxNetworking
{
    private static readonly TimeSpan AllocationLockTimeout = TimeSpan.FromSeconds(30);

    private readonly INetnsCommandRunner _runner;
    private readonly IHostSysctl _sysctl;
    private readonly ILogger _logger;

    public SandboxNetworking(ILogger logger, INetnsCommandRunner? runner = null, IHostSysctl? sysctl = null)
    {
        _logger = logger;
        _runner = runner ?? NetnsCommandRunner.Default;
        _sysctl = sysctl ?? HostSysctl.Instance;
    }

    /// <summary>Where <c>ip netns add</c> puts namespaces; only tests change it.</summary>
    internal string NetnsDirectory { get; init; } = NatNetworkPlan.IpNetnsDirectory;

    /// <summary>
    /// Sets up the host side. On failure everything done so far is undone, network.json is removed, and the
    /// exception is rethrown.
    /// </summary>
    /// <param name="sandboxDirectory">The sandbox's own directory (it must exist): network.json goes there, and its
    /// parent, the sandboxes directory, is what subnet allocation locks and scans.</param>
    /// <exception cref="NetworkException">A step failed; see <see cref="NetworkException.Kind"/>.</exception>
    public async Task<SandboxNetworkAttachment> AttachAsync(SandboxNetworkRequest request, string sandboxId, string sandboxDirectory, CancellationToken cancellationToken)
    {
        if (request.Mode == SandboxNetworkMode.None)
        {
            return SandboxNetworkAttachment.None;
        }

        var record = new NetworkRecord { Mode = request.Mode == SandboxNetworkMode.Nat ? "nat" : "pod" };
        var undo = new NetworkUndoLog(steps =>
        {
            record.Undo = [.. steps];
            NetworkRecordStore.Write(sandboxDirectory, record);
        });
        try
        {
            var mirror = new TcMirrorNetwork(_runner, _logger);
            if (request.Mode == SandboxNetworkMode.PodNamespace)
            {
                var netns = request.NetnsPath is { Length: > 0 } path ? Path.GetFullPath(path)
                    : throw new NetworkException("a pod network needs the path of its network namespace", NetworkErrorKind.InvalidArgument);
                record.NetnsPath = netns;
                NetworkRecordStore.Write(sandboxDirectory, record);
                var tc = await mirror.AttachAsync(netns, undo, cancellationToken).ConfigureAwait(false);
                return new SandboxNetworkAttachment(netns, tc.Nics, tc.Guest);
            }

            var plan = await AllocateAsync(sandboxId, sandboxDirectory, record, cancellationToken).ConfigureAwait(false);
            var nat = await new NatNetwork(_runner, _logger, _sysctl).CreateAsync(plan, undo, cancellationToken).ConfigureAwait(false);
            var attached = await mirror.AttachAsync(plan.NetnsPath, undo, cancellationToken).ConfigureAwait(false);
            return new SandboxNetworkAttachment(plan.NetnsPath, attached.Nics, attached.Guest, record.GuestAddress, nat);
        }
        catch
        {
            var failed = await NetworkUndo.RunAsync(_runner, undo.Steps, _logger, CancellationToken.None).ConfigureAwait(false);
            if (failed.Count == 0)
            {
                TryDeleteRecord(sandboxDirectory);
            }
            else
            {
                // Keep what is left in the record: removing the sandbox retries it.
                record.Undo = failed.Select(f => f.Step).Reverse().ToList();
                NetworkRecordStore.Write(sandboxDirectory, record);
            }

            throw;
        }
    }

    /// <summary>
    /// Undoes everything the sandbox's network.json lists, last step first, and deletes the file. Nothing to do
    /// without one. Safe to repeat: what is already gone counts as undone.
    /// </summary>
    /// <exception cref="NetworkException">Some steps failed (all were tried); network.json keeps those for a retry.</exception>
    public async Task TeardownAsync(string sandboxDirectory, CancellationToken cancellationToken)
    {
        var record = NetworkRecordStore.Read(sandboxDirectory);
        if (record is null)
        {
            return;
        }

        var failed = await NetworkUndo.RunAsync(_runner, record.Undo, _logger, cancellationToken).ConfigureAwait(false);
        if (failed.Count > 0)
        {
            record.Undo = failed.Select(f => f.Step).Reverse().ToList();
            NetworkRecordStore.Write(sandboxDirectory, record);
            throw new NetworkException($"cannot remove the network of {sandboxDirectory}: " +
                string.Join("; ", failed.Select(f => $"{NetnsCommandRunner.Describe(f.Step.Netns, f.Step.Command)}: {f.Reason}")));
        }

        TryDeleteRecord(sandboxDirectory);
        LogTornDown(_logger, record.Mode, record.NetnsPath ?? "");
    }

    /// <summary>
    /// Tears down and logs instead of throwing, for paths that must go on (a failed create, a destroy).
    /// </summary>
    /// <returns>True when nothing of the network is left, so that the sandbox directory, and network.json with it, may go.</returns>
    public async Task<bool> TryTeardownAsync(string sandboxDirectory, CancellationToken cancellationToken)
    {
        try
        {
            await TeardownAsync(sandboxDirectory, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (Exception e) when (e is NetworkException or OperationCanceledException or IOException)
        {
            LogTeardownFailed(_logger, sandboxDirectory, e.Message);
            return false;
        }
    }

    /// <summary>
    /// Claims the lowest free /30 of the pool. Under an flock on the sandboxes directory, the subnets in use are
    /// the ones the other sandboxes' network.json files hold; writing ours (with its index) is the claim. A
    /// crashed sandbox keeps its subnet until it is removed, which is right: its veth may still be there.
    /// </summary>
    private async Task<NatNetworkPlan> AllocateAsync(string sandboxId, string sandboxDirectory, NetworkRecord record, CancellationToken cancellationToken)
    {
        var hostRoutes = await HostRoutesAsync(cancellationToken).ConfigureAwait(false);
        var sandboxes = Path.GetDirectoryName(Path.GetFullPath(sandboxDirectory).TrimEnd('/'))!;
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
        var plan = new NatNetworkPlan(sandboxId, SubnetPool.SubnetAt(chosen), NetnsDirectory);
        record.SubnetIndex = chosen;
        record.NetnsPath = plan.NetnsPath;
        record.GuestAddress = $"{plan.GuestAddress}/{SubnetPool.SubnetPrefixLength}";
        NetworkRecordStore.Write(sandboxDirectory, record);
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

    private static void TryDeleteRecord(string sandboxDirectory)
    {
        try
        {
            NetworkRecordStore.Delete(sandboxDirectory);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The sandbox directory goes soon anyway.
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "network: {Mode} network of {Netns} removed")]
    private static partial void LogTornDown(ILogger logger, string mode, string netns);

    [LoggerMessage(Level = LogLevel.Error, Message = "network: cannot remove the network of {Directory}: {Reason}; the sandbox directory stays so that katasharp rm can retry")]
    private static partial void LogTeardownFailed(ILogger logger, string directory, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "network: {Directory} has an unreadable network record: {Reason}")]
    private static partial void LogUnreadableRecord(ILogger logger, string directory, string reason);
}

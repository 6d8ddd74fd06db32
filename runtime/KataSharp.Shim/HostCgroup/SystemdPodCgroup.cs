using Microsoft.Extensions.Logging;

namespace KataSharp.Shim.HostCgroup;

/// <summary>
/// The systemd driver's pod cgroup: a transient scope in the pod's slice holding the shim, started over D-Bus. Leaving moves
/// the shim back where it came from in each hierarchy; systemd stops and removes a scope once nothing is left in it.
/// </summary>
internal sealed partial class SystemdPodCgroup : IJoinedPodCgroup
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);

    private readonly IReadOnlyList<CgroupHierarchy> _hierarchies;
    private readonly int _pid;
    private readonly ILogger _logger;

    private SystemdPodCgroup(string unit, IReadOnlyList<CgroupHierarchy> hierarchies, int pid, ILogger logger)
    {
        Where = unit;
        _hierarchies = hierarchies;
        _pid = pid;
        _logger = logger;
    }

    public string Where { get; }

    /// <summary>Starts the scope with <paramref name="pid"/> in it; null, logged, when systemd would not.</summary>
    public static async Task<SystemdPodCgroup?> JoinAsync(ISystemdManager systemd, IReadOnlyList<CgroupHierarchy> hierarchies, PodCgroupPath.Systemd path,
        int pid, ILogger logger, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(StartTimeout);
        try
        {
            await systemd.StartTransientScopeAsync(TransientScope.For(path, pid), timeout.Token).ConfigureAwait(false);
        }
        catch (SystemdException e)
        {
            LogNotJoined(logger, path.Unit, path.Slice, e.Message);
            return null;
        }

        return new SystemdPodCgroup(path.Unit, hierarchies, pid, logger);
    }

    public Task LeaveAsync()
    {
        foreach (var hierarchy in _hierarchies)
        {
            if (CgroupMove.Back(hierarchy, _pid) is { } stayed)
            {
                LogNotLeft(_logger, Where, hierarchy.MountPoint, stayed);
            }
        }

        return Task.CompletedTask;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "the VM does not join the pod's systemd scope {Unit} in {Slice}: {Reason}; the pod's host accounting will not see it there")]
    private static partial void LogNotJoined(ILogger logger, string unit, string slice, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "the shim could not leave the pod's scope {Unit} in {Hierarchy}, which stays until the shim exits: {Reason}")]
    private static partial void LogNotLeft(ILogger logger, string unit, string hierarchy, string reason);
}

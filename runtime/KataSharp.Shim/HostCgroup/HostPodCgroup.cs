using Microsoft.Extensions.Logging;

namespace KataSharp.Shim.HostCgroup;

/// <summary>
/// Puts the shim into the host cgroup containerd names for the sandbox (the sandbox container's <c>linux.cgroupsPath</c>,
/// under the pod's cgroup parent) before it starts the VM, as Kata's <c>sandbox_cgroup_only</c> does: QEMU and every helper
/// are born there, so all the memory the VM ever touches is charged to the pod (a process that moves later leaves its
/// charges behind where the kernel cannot move them) and CRI's PodSandboxStats, which reads the pod's parent, sees the VM.
/// A pod that cannot be joined is logged and runs outside, as its accounting is not worth refusing the pod over; a spec
/// without a cgroupsPath (ctr with no cgroup) joins nothing.
/// </summary>
internal static partial class HostPodCgroup
{
    public static Task<IJoinedPodCgroup?> JoinAsync(string? cgroupsPath, ILogger logger, CancellationToken cancellationToken) =>
        JoinAsync(cgroupsPath, Environment.ProcessId, () => CgroupHierarchy.Discover(), () => (SystemdBus.Connect(out var reason), reason), logger, cancellationToken);

    internal static async Task<IJoinedPodCgroup?> JoinAsync(string? cgroupsPath, int pid, Func<IReadOnlyList<CgroupHierarchy>> hierarchies,
        Func<(ISystemdManager? Manager, string Reason)> systemd, ILogger logger, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(cgroupsPath))
        {
            return null;
        }

        if (PodCgroupPath.Parse(cgroupsPath, out var error) is not { } path)
        {
            LogNotJoined(logger, cgroupsPath, error);
            return null;
        }

        IReadOnlyList<CgroupHierarchy> found;
        try
        {
            found = hierarchies();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            LogNotJoined(logger, cgroupsPath, $"the cgroup hierarchies cannot be read: {e.Message}");
            return null;
        }

        IJoinedPodCgroup? joined;
        if (path is PodCgroupPath.Systemd scope)
        {
            var (manager, reason) = systemd();
            if (manager is null)
            {
                LogNotJoined(logger, cgroupsPath, $"the systemd cgroup driver names it, and {reason}");
                return null;
            }

            joined = await SystemdPodCgroup.JoinAsync(manager, found, scope, pid, logger, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            joined = CgroupfsPodCgroup.Join(found, (PodCgroupPath.Cgroupfs)path, pid, logger);
        }

        if (joined is not null)
        {
            LogJoined(logger, joined.Where);
        }

        return joined;
    }

    /// <summary>
    /// After a shim died and its VM was killed: removes the cgroupfs leaf it joined, which nobody else would (kubelet removes
    /// a pod's cgroup tree, but a bare containerd client does not). systemd removes an emptied scope itself.
    /// </summary>
    public static Task RemoveLeftoversAsync(string? cgroupsPath, ILogger logger) =>
        RemoveLeftoversAsync(cgroupsPath, () => CgroupHierarchy.Discover(), logger);

    internal static async Task RemoveLeftoversAsync(string? cgroupsPath, Func<IReadOnlyList<CgroupHierarchy>> hierarchies, ILogger logger)
    {
        if (string.IsNullOrEmpty(cgroupsPath) || PodCgroupPath.Parse(cgroupsPath, out _) is not PodCgroupPath.Cgroupfs path)
        {
            return;
        }

        try
        {
            await CgroupfsPodCgroup.RemoveLeftoversAsync(hierarchies(), path, logger).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            LogLeftoversUnread(logger, cgroupsPath, e.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "the pod's host cgroup {CgroupsPath} may be left behind: the cgroup hierarchies cannot be read: {Reason}")]
    private static partial void LogLeftoversUnread(ILogger logger, string cgroupsPath, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "the shim joined the pod's host cgroup {Where}: the VM is born there")]
    private static partial void LogJoined(ILogger logger, string where);

    [LoggerMessage(Level = LogLevel.Warning, Message = "the VM does not join the pod's host cgroup {CgroupsPath}: {Reason}; the pod's host accounting will not see it")]
    private static partial void LogNotJoined(ILogger logger, string cgroupsPath, string reason);
}

using System.Globalization;
using Microsoft.Extensions.Logging;

namespace KataSharp.Shim.TaskService;

/// <summary>
/// Puts the pod's VM into the host cgroup containerd names for the sandbox (the sandbox container's
/// <c>linux.cgroupsPath</c>, under the pod's cgroup parent), where runc puts the pause container and Kata's
/// <c>sandbox_cgroup_only</c> puts its VMM. The VM is what the pod costs the host, and CRI's PodSandboxStats
/// reads the pod's CPU, memory and process count from that parent. Only cgroupfs paths are joined (systemd
/// slices need systemd's D-Bus API); a hierarchy that cannot be joined is logged and the pod runs outside it,
/// as its accounting is not worth refusing the pod over. Removing it deletes only the leaf, as runc does: the
/// parent belongs to whoever made the pod (kubelet).
/// </summary>
internal sealed partial class HostPodCgroup
{
    // cpuset is not joined: a new v1 cpuset cgroup has no CPUs until someone assigns them.
    private static readonly string[] V1Controllers = ["cpu", "cpuacct", "memory", "pids", "blkio"];
    private static readonly string[] V2Controllers = ["cpu", "memory", "pids", "io"];
    private static readonly TimeSpan RemoveRetry = TimeSpan.FromMilliseconds(50);
    private const int RemoveAttempts = 40;

    private readonly List<string> _leaves;
    private readonly ILogger _logger;

    private HostPodCgroup(List<string> leaves, ILogger logger)
    {
        _leaves = leaves;
        _logger = logger;
    }

    /// <summary>The leaf directories the VM was moved into, one per hierarchy.</summary>
    public IReadOnlyList<string> Leaves => _leaves;

    /// <summary>Moves <paramref name="pid"/> into <paramref name="cgroupsPath"/>; null when there is nothing to join or it could not be.</summary>
    public static HostPodCgroup? Join(string? cgroupsPath, int pid, ILogger logger, string root = "/sys/fs/cgroup")
    {
        if (string.IsNullOrEmpty(cgroupsPath))
        {
            return null;
        }

        if (Segments(cgroupsPath) is not { } segments)
        {
            LogNotJoined(logger, cgroupsPath, "only absolute cgroupfs paths are joined");
            return null;
        }

        var unified = File.Exists(Path.Combine(root, "cgroup.controllers"));
        var hierarchies = unified
            ? [root]
            : V1Controllers.Select(c => Path.Combine(root, c)).Where(h => File.Exists(Path.Combine(h, "cgroup.procs"))).ToList();
        var leaves = new List<string>();
        foreach (var hierarchy in hierarchies)
        {
            // Each hierarchy on its own: accounting in some is better than in none.
            try
            {
                var leaf = Create(hierarchy, segments, unified);
                leaves.Add(leaf);
                if (!unified)
                {
                    // v1 moves the VM's memory already charged (guest RAM touched at boot) along with it.
                    TryWrite(Path.Combine(leaf, "memory.move_charge_at_immigrate"), "3");
                }

                File.WriteAllText(Path.Combine(leaf, "cgroup.procs"), pid.ToString(CultureInfo.InvariantCulture));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                LogNotJoined(logger, Path.Combine(hierarchy, cgroupsPath.TrimStart('/')), e.Message);
            }
        }

        return leaves.Count == 0 ? null : new HostPodCgroup(leaves, logger);
    }

    /// <summary>Deletes the leaves once the VM has left them (it has exited); a leaf that stays busy is logged.</summary>
    public async Task RemoveAsync()
    {
        foreach (var leaf in _leaves)
        {
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    if (Directory.Exists(leaf))
                    {
                        Directory.Delete(leaf);
                    }

                    break;
                }
                catch (IOException) when (attempt < RemoveAttempts)
                {
                    // A cgroup stays busy for a moment after its last task is reaped.
                    await Task.Delay(RemoveRetry).ConfigureAwait(false);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    LogNotRemoved(_logger, leaf, e.Message);
                    break;
                }
            }
        }
    }

    /// <summary>The path's segments, or null for a relative, systemd-style or escaping path.</summary>
    internal static string[]? Segments(string cgroupsPath)
    {
        if (!cgroupsPath.StartsWith('/') || cgroupsPath.Contains(':', StringComparison.Ordinal))
        {
            return null;
        }

        var segments = cgroupsPath.Split('/', StringSplitOptions.RemoveEmptyEntries);
        return segments.Length == 0 || segments.Any(s => s is "." or "..") ? null : segments;
    }

    private static string Create(string hierarchy, string[] segments, bool unified)
    {
        var dir = hierarchy;
        foreach (var segment in segments)
        {
            if (unified)
            {
                // A controller a parent does not hand down is missing below it; each is asked for on its own,
                // since one the parent lacks fails the whole write.
                foreach (var controller in V2Controllers)
                {
                    TryWrite(Path.Combine(dir, "cgroup.subtree_control"), "+" + controller);
                }
            }

            dir = Path.Combine(dir, segment);
            Directory.CreateDirectory(dir);
        }

        return dir;
    }

    private static void TryWrite(string path, string value)
    {
        try
        {
            File.WriteAllText(path, value);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Best effort: the controller or knob may be absent on this kernel.
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "the VM does not join the pod's host cgroup {CgroupsPath}: {Reason}; PodSandboxStats will not see it")]
    private static partial void LogNotJoined(ILogger logger, string cgroupsPath, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "could not remove the pod's host cgroup {Leaf}: {Reason}")]
    private static partial void LogNotRemoved(ILogger logger, string leaf, string reason);
}

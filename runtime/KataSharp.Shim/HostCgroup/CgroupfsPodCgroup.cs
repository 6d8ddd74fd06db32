using Microsoft.Extensions.Logging;

namespace KataSharp.Shim.HostCgroup;

/// <summary>
/// The cgroupfs driver's pod cgroup: the leaf directory of the sandbox's cgroupsPath in every accounting hierarchy (each v1
/// one and the v2 unified one), made where missing, as runc makes the pause container's. Leaving deletes only the leaf, as
/// runc does: the parent belongs to whoever made the pod (kubelet).
/// </summary>
internal sealed partial class CgroupfsPodCgroup : IJoinedPodCgroup
{
    // v2 controllers the pod accounts in: each asked for on its own down the path, since one a parent lacks fails the whole write.
    private static readonly string[] V2Controllers = ["cpu", "memory", "pids", "io"];
    private static readonly TimeSpan RemoveRetry = TimeSpan.FromMilliseconds(50);
    private const int RemoveAttempts = 40;

    private readonly List<(CgroupHierarchy Hierarchy, string Leaf)> _joined;
    private readonly int _pid;
    private readonly ILogger _logger;

    private CgroupfsPodCgroup(List<(CgroupHierarchy, string)> joined, int pid, ILogger logger)
    {
        _joined = joined;
        _pid = pid;
        _logger = logger;
    }

    /// <summary>The leaf directories <see cref="Join"/> moved the process into, one per hierarchy.</summary>
    public IReadOnlyList<string> Leaves => _joined.Select(j => j.Leaf).ToList();

    public string Where => string.Join(' ', Leaves);

    /// <summary>
    /// Moves <paramref name="pid"/> into <paramref name="path"/> in each hierarchy on its own (accounting in some is better
    /// than in none); null when it joined none.
    /// </summary>
    public static CgroupfsPodCgroup? Join(IReadOnlyList<CgroupHierarchy> hierarchies, PodCgroupPath.Cgroupfs path, int pid, ILogger logger)
    {
        var joined = new List<(CgroupHierarchy, string)>();
        foreach (var hierarchy in hierarchies)
        {
            try
            {
                var leaf = Create(hierarchy, path.Segments);
                CgroupMove.Into(leaf, pid);
                joined.Add((hierarchy, leaf));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                LogNotJoined(logger, hierarchy.Directory(path.Path), e.Message);
            }
        }

        return joined.Count == 0 ? null : new CgroupfsPodCgroup(joined, pid, logger);
    }

    public async Task LeaveAsync()
    {
        foreach (var (hierarchy, leaf) in _joined)
        {
            if (CgroupMove.Back(hierarchy, _pid) is { } stayed)
            {
                LogNotLeft(_logger, leaf, stayed);
                continue;
            }

            await RemoveAsync(leaf, _logger).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Removes the leaf a shim that died left in each hierarchy, once its VM has been killed (containerd's <c>delete</c>
    /// after a crash); a leaf something still lives in stays, logged.
    /// </summary>
    public static async Task RemoveLeftoversAsync(IReadOnlyList<CgroupHierarchy> hierarchies, PodCgroupPath.Cgroupfs path, ILogger logger)
    {
        foreach (var hierarchy in hierarchies)
        {
            await RemoveAsync(hierarchy.Directory(path.Path), logger).ConfigureAwait(false);
        }
    }

    private static async Task RemoveAsync(string leaf, ILogger logger)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                if (Directory.Exists(leaf))
                {
                    Directory.Delete(leaf);
                }

                return;
            }
            catch (IOException) when (attempt < RemoveAttempts)
            {
                // A cgroup stays busy for a moment after its last task is reaped.
                await Task.Delay(RemoveRetry).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                LogNotRemoved(logger, leaf, e.Message);
                return;
            }
        }
    }

    private static string Create(CgroupHierarchy hierarchy, IReadOnlyList<string> segments)
    {
        var dir = hierarchy.MountPoint;
        foreach (var segment in segments)
        {
            if (hierarchy.Unified)
            {
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
            // Best effort: a hybrid host's unified hierarchy has no controllers to hand down, and a parent may lack one.
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "the VM does not join the pod's host cgroup {Cgroup}: {Reason}; the pod's host accounting will not see it there")]
    private static partial void LogNotJoined(ILogger logger, string cgroup, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "the shim could not leave the pod's host cgroup {Leaf}, which stays until the shim exits: {Reason}")]
    private static partial void LogNotLeft(ILogger logger, string leaf, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "could not remove the pod's host cgroup {Leaf}: {Reason}")]
    private static partial void LogNotRemoved(ILogger logger, string leaf, string reason);
}

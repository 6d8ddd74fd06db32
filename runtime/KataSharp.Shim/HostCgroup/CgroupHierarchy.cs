namespace KataSharp.Shim.HostCgroup;

/// <summary>
/// One mounted cgroup hierarchy the pod's VM is accounted in: a v1 one with its controllers, or the v2 unified one
/// (all of cgroup on a v2 host, process tracking at /sys/fs/cgroup/unified on a v1/v2 hybrid), and the cgroup this
/// process was in there when it looked (where it goes back to when the pod is done).
/// </summary>
internal sealed record CgroupHierarchy(string MountPoint, bool Unified, IReadOnlyList<string> Controllers, string Origin)
{
    /// <summary>
    /// The v1 controllers that account or limit what the pod costs. Others are left alone: a new v1 cpuset cgroup has
    /// no CPUs until someone assigns them, and a devices cgroup would hand QEMU the parent's device rules.
    /// </summary>
    private static readonly string[] AccountingControllers = ["cpu", "cpuacct", "memory", "pids", "blkio", "hugetlb"];

    /// <summary>The cgroup directory for <paramref name="path"/> (absolute inside the hierarchy).</summary>
    public string Directory(string path) => Path.Join(MountPoint, path.TrimStart('/'));

    /// <summary>The accounting hierarchies of this process's mount namespace, each once, with where this process is in each.</summary>
    public static IReadOnlyList<CgroupHierarchy> Discover(string mountInfoPath = "/proc/self/mountinfo", string cgroupPath = "/proc/self/cgroup") =>
        Parse(File.ReadAllLines(mountInfoPath), File.ReadAllLines(cgroupPath));

    internal static IReadOnlyList<CgroupHierarchy> Parse(IEnumerable<string> mountInfo, IEnumerable<string> selfCgroup)
    {
        // "4:memory:/a/b" (v1; "cpu,cpuacct" when co-mounted) and "0::/a/b" (v2).
        var origins = selfCgroup.Select(l => l.Split(':', 3)).Where(f => f.Length == 3).ToList();
        var hierarchies = new List<CgroupHierarchy>();
        foreach (var line in mountInfo)
        {
            // "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory": the mount point is field 5,
            // after " - " come the type, the source and the super options (a v1 mount's controllers).
            var split = line.IndexOf(" - ", StringComparison.Ordinal);
            if (split < 0)
            {
                continue;
            }

            var fields = line[..split].Split(' ');
            var tail = line[(split + 3)..].Split(' ');
            if (fields.Length < 5 || tail.Length < 3 || fields[3] != "/")
            {
                // A mount of a sub-tree (a bind of some cgroup) is not the hierarchy's root; its root mount is listed too.
                continue;
            }

            var mountPoint = fields[4];
            if (tail[0] == "cgroup2")
            {
                if (origins.FirstOrDefault(f => f[0] == "0" && f[1].Length == 0) is { } v2)
                {
                    hierarchies.Add(new CgroupHierarchy(mountPoint, true, [], v2[2]));
                }
            }
            else if (tail[0] == "cgroup")
            {
                var options = tail[2].Split(',');
                var controllers = AccountingControllers.Where(options.Contains).ToList();
                // A v1 controller is bound to one hierarchy at most: any of them finds this process's line.
                if (controllers.Count > 0 && origins.FirstOrDefault(f => f[1].Split(',').Contains(controllers[0])) is { } v1)
                {
                    hierarchies.Add(new CgroupHierarchy(mountPoint, false, controllers, v1[2]));
                }
            }
        }

        // A hierarchy mounted twice is joined once.
        return hierarchies.DistinctBy(h => h.Unified ? "" : string.Join(',', h.Controllers)).ToList();
    }
}

namespace KataSharp.Agent.Containers;

/// <summary>Finds a process's cgroup v2 directory from /proc, wherever cgroup2 is mounted.</summary>
internal sealed class CgroupLocator
{
    private readonly string _procRoot;

    public CgroupLocator(string procRoot = "/proc") => _procRoot = procRoot;

    /// <summary>The cgroup2 mount point: /sys/fs/cgroup in the guest, /sys/fs/cgroup/unified on a hybrid host.</summary>
    public string? FindUnifiedMount()
    {
        var mountInfo = Path.Combine(_procRoot, "self/mountinfo");
        return File.Exists(mountInfo) ? ParseUnifiedMount(File.ReadAllText(mountInfo)) : null;
    }

    /// <summary>The directory of <paramref name="pid"/>'s cgroup, or null when it cannot be known.</summary>
    public string? ForPid(int pid)
    {
        var mount = FindUnifiedMount();
        var cgroupFile = Path.Combine(_procRoot, pid.ToString(System.Globalization.CultureInfo.InvariantCulture), "cgroup");
        if (mount is null || !File.Exists(cgroupFile))
        {
            return null;
        }

        string text;
        try
        {
            text = File.ReadAllText(cgroupFile);
        }
        catch (IOException)
        {
            return null;
        }

        // The root cgroup is never a container's own: it would make stats and ps cover the whole guest.
        var relative = ParseUnifiedPath(text);
        return relative is null or "/" or "" ? null : Path.Join(mount, relative);
    }

    /// <summary>The "0::/path" line of /proc/PID/cgroup.</summary>
    internal static string? ParseUnifiedPath(string procCgroup)
    {
        foreach (var line in procCgroup.Split('\n'))
        {
            if (line.StartsWith("0::", StringComparison.Ordinal))
            {
                return line[3..].Trim();
            }
        }

        return null;
    }

    /// <summary>The cgroup2 mount point in mountinfo, /sys/fs/cgroup if cgroup2 is mounted there.</summary>
    internal static string? ParseUnifiedMount(string mountInfo)
    {
        var mounts = new List<string>();
        foreach (var line in mountInfo.Split('\n'))
        {
            // "36 25 0:31 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate"
            var separator = line.IndexOf(" - ", StringComparison.Ordinal);
            if (separator < 0)
            {
                continue;
            }

            var after = line[(separator + 3)..].Split(' ');
            var before = line[..separator].Split(' ');
            if (after.Length > 0 && after[0] == "cgroup2" && before.Length > 4)
            {
                mounts.Add(before[4].Replace("\\040", " ", StringComparison.Ordinal));
            }
        }

        return mounts.Contains("/sys/fs/cgroup") ? "/sys/fs/cgroup" : mounts.FirstOrDefault();
    }
}

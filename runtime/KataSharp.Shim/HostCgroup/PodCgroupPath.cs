namespace KataSharp.Shim.HostCgroup;

/// <summary>
/// The sandbox's <c>linux.cgroupsPath</c> as the two cgroup drivers write it: an absolute cgroupfs path
/// ("/kubepods/burstable/pod1/abc"), or systemd's "slice:prefix:name"
/// ("kubepods-burstable-pod1.slice:cri-containerd:abc", the scope cri-containerd-abc.scope in that slice), as runc reads them.
/// </summary>
internal abstract record PodCgroupPath
{
    /// <summary>The path in its driver's form, or null with <paramref name="error"/> saying why it cannot be joined.</summary>
    public static PodCgroupPath? Parse(string cgroupsPath, out string error)
    {
        error = "";
        var parts = cgroupsPath.Split(':');
        if (parts.Length == 3)
        {
            var (slice, prefix, name) = (parts[0].Length == 0 ? "system.slice" : parts[0], parts[1], parts[2]);
            if (!slice.EndsWith(".slice", StringComparison.Ordinal) || name.Length == 0 || name.EndsWith(".slice", StringComparison.Ordinal)
                || $"{slice}{prefix}{name}".Contains('/', StringComparison.Ordinal))
            {
                error = "a systemd cgroupsPath is \"<name>.slice:<prefix>:<name>\", and the VM joins a scope, not a slice";
                return null;
            }

            return new Systemd(slice, prefix.Length == 0 ? $"{name}.scope" : $"{prefix}-{name}.scope");
        }

        var segments = cgroupsPath.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length != 1 || !cgroupsPath.StartsWith('/') || segments.Length == 0 || segments.Any(s => s is "." or ".."))
        {
            error = "a cgroupfs cgroupsPath is absolute and stays below the hierarchy's root";
            return null;
        }

        return new Cgroupfs(segments);
    }

    /// <summary>A directory below each hierarchy's root, made one segment at a time.</summary>
    public sealed record Cgroupfs(IReadOnlyList<string> Segments) : PodCgroupPath
    {
        public string Path => "/" + string.Join('/', Segments);
    }

    /// <summary>A transient scope unit in a slice, which systemd makes and removes.</summary>
    public sealed record Systemd(string Slice, string Unit) : PodCgroupPath;
}

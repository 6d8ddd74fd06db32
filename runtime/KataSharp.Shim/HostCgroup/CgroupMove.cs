using System.Globalization;

namespace KataSharp.Shim.HostCgroup;

/// <summary>Moves a process (all its threads) between cgroups of one hierarchy through the <c>cgroup.procs</c> files.</summary>
internal static class CgroupMove
{
    /// <exception cref="IOException">The cgroup is missing or refuses the process.</exception>
    /// <exception cref="UnauthorizedAccessException">Not ours to write.</exception>
    public static void Into(string cgroupDirectory, int pid) =>
        File.WriteAllText(Path.Combine(cgroupDirectory, "cgroup.procs"), pid.ToString(CultureInfo.InvariantCulture));

    /// <summary>
    /// Back to where the process was before it joined the pod, or to the hierarchy's root when that cgroup has gone
    /// (the root takes any process in v1 and v2 alike); null when it stayed, with the reason.
    /// </summary>
    public static string? Back(CgroupHierarchy hierarchy, int pid)
    {
        try
        {
            Into(hierarchy.Directory(hierarchy.Origin), pid);
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try
            {
                Into(hierarchy.MountPoint, pid);
                return null;
            }
            catch (Exception root) when (root is IOException or UnauthorizedAccessException)
            {
                return $"{e.Message}; and the root: {root.Message}";
            }
        }
    }
}

namespace KataSharp.Native.Processes;

/// <summary>
/// The fds a process was started with beyond stdio. Every fd the .NET runtime opens is close-on-exec,
/// so an fd above 2 without FD_CLOEXEC can only have come through exec from whoever started us
/// (containerd, a test harness's flock, a shell). A long-lived daemon must not keep those open: it
/// would hold its starter's locks and pipes for its whole life.
/// </summary>
public static class InheritedDescriptors
{
    /// <summary>The open fds above 2 that lack FD_CLOEXEC.</summary>
    public static IReadOnlyList<int> List()
    {
        var inherited = new List<int>();
        foreach (var entry in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
        {
            // The directory handle used for this enumeration is close-on-exec, so it is never listed.
            if (int.TryParse(Path.GetFileName(entry), out var fd) && fd > 2
                && Libc.Fcntl(fd, Linux.F_GETFD, 0) is var flags && flags >= 0 && (flags & Linux.FD_CLOEXEC) == 0)
            {
                inherited.Add(fd);
            }
        }

        return inherited;
    }

    /// <summary>Closes every inherited fd above 2; returns how many there were.</summary>
    public static int CloseAll()
    {
        var inherited = List();
        foreach (var fd in inherited)
        {
            Libc.Close(fd);
        }

        return inherited.Count;
    }
}

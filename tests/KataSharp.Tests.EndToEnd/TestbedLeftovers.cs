using System.Diagnostics;
using System.Text.RegularExpressions;

namespace KataSharp.Tests.EndToEnd;

/// <summary>
/// What a killed test run leaves behind: its bridge (whose gateway address then sits on two bridges, so a later
/// run's hostPort traffic gets "No route to host"), containerd's directory with the pods' network namespaces
/// mounted in it, the testbed's work and KataSharp state directories. Each is named for the test process that
/// made it, so a sweep takes only ours, and only what nothing alive still uses.
/// </summary>
public static partial class TestbedLeftovers
{
    /// <summary>A testbed's bridge: release tag and owner pid (interface names are at most 15 bytes).</summary>
    public static string BridgeName(int tag, int ownerPid) => $"ksbr{tag}-{ownerPid}";

    /// <summary>Prefix of a temporary directory of the given kind made by <paramref name="ownerPid"/>.</summary>
    public static string DirectoryPrefix(string kind, int ownerPid) => $"{kind}{ownerPid}-";

    /// <summary>The kinds of temporary directories a testbed makes: containerd's root and state, and the work directory.</summary>
    public static readonly string[] DirectoryKinds = ["ksctd", "ks-e2e"];

    /// <summary>A testbed's KataSharp state directory (short: the sandbox sockets under it must fit in 107 bytes).</summary>
    public static string StateDirectory(int tag, int ownerPid) => $"/run/kse2e{tag}-{ownerPid}";

    /// <summary>The pid a leftover's name carries, or null for a name no testbed makes.</summary>
    public static int? Owner(string name)
    {
        var match = OwnedName().Match(name);
        return match.Success && int.TryParse(match.Groups["pid"].Value, out var pid) ? pid : null;
    }

    /// <summary>
    /// What to remove, from a snapshot of the host. A leftover goes only if the process that made it is gone, no
    /// live process names it on its command line (a leaked shim, containerd or QEMU still works there), and no
    /// process runs in a network namespace mounted beneath it.
    /// </summary>
    public static SweepPlan Select(HostSnapshot host)
    {
        var bridges = host.Links.Where(link => link.StartsWith("ksbr", StringComparison.Ordinal) && IsAbandoned(link)).ToList();
        var directories = new List<StaleDirectory>();
        foreach (var directory in host.Directories.Where(d => IsAbandoned(Path.GetFileName(d))))
        {
            var beneath = directory.TrimEnd('/') + "/";
            var mounts = host.Mounts.Where(m => m.Point.StartsWith(beneath, StringComparison.Ordinal)).ToList();
            if (host.CommandLines.Any(c => c.Contains(beneath, StringComparison.Ordinal) || c.EndsWith(directory, StringComparison.Ordinal))
                || mounts.Any(m => m.FilesystemType == "nsfs" && host.NamespacesInUse.Contains(m.Root)))
            {
                continue;
            }

            // Deepest first: a mount can sit on a directory of another one.
            directories.Add(new StaleDirectory(directory, mounts.Select(m => m.Point).OrderByDescending(p => p.Length).ToList()));
        }

        return new SweepPlan(bridges, directories);

        bool IsAbandoned(string name) => Owner(name) is { } pid && !host.LivePids.Contains(pid);
    }

    /// <summary>
    /// Removes what <see cref="Select"/> picks on this host, and returns what it removed. With <paramref name="ownedBy"/>
    /// (a testbed's teardown) only that process's leftovers, as if it were gone already.
    /// </summary>
    public static IReadOnlyList<string> Sweep(int? ownedBy = null)
    {
        var host = HostSnapshot.Take(Candidates());
        if (ownedBy is { } owner)
        {
            host = host with
            {
                Links = host.Links.Where(l => Owner(l) == owner).ToList(),
                Directories = host.Directories.Where(d => Owner(Path.GetFileName(d)) == owner).ToList(),
                LivePids = host.LivePids.Where(pid => pid != owner).ToHashSet(),
            };
        }

        var plan = Select(host);
        var removed = new List<string>();
        foreach (var bridge in plan.Bridges)
        {
            HostResources.RemoveLink(bridge);
            removed.Add($"bridge {bridge}");
        }

        foreach (var directory in plan.Directories)
        {
            foreach (var point in directory.Mounts)
            {
                Run("umount", "-l", point);
            }

            try
            {
                Directory.Delete(directory.Path, recursive: true);
                removed.Add($"{directory.Path} ({directory.Mounts.Count} mounts)");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                removed.Add($"{directory.Path}: not removed: {e.Message}");
            }
        }

        return removed;
    }

    /// <summary>Where testbeds put their directories: the temporary directory and /run.</summary>
    private static IEnumerable<string> Candidates()
    {
        var temp = Path.GetTempPath();
        var found = DirectoryKinds.SelectMany(kind => Directory.EnumerateDirectories(temp, kind + "*"));
        return Directory.Exists("/run") ? found.Concat(Directory.EnumerateDirectories("/run", "kse2e*")) : found;
    }

    internal static void Run(string file, params string[] args)
    {
        using var process = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false });
        if (process is not null && !process.WaitForExit(10_000))
        {
            process.Kill();
        }
    }

    // ksbr0-1234, ksctd1234-abc, ks-e2e1234-abc, kse2e0-1234.
    [GeneratedRegex(@"^(ksbr\d+-(?<pid>\d+)|kse2e\d+-(?<pid>\d+)|(ksctd|ks-e2e)(?<pid>\d+)-.*)$")]
    private static partial Regex OwnedName();
}

/// <summary>A mount as /proc/self/mountinfo shows it; for a network namespace, Root is "net:[inode]".</summary>
public sealed record HostMount(string Point, string FilesystemType, string Root);

/// <summary>What a sweep looks at: links, candidate directories, processes and mounts, all at one moment.</summary>
public sealed record HostSnapshot(
    IReadOnlyList<string> Links,
    IReadOnlyList<string> Directories,
    IReadOnlySet<int> LivePids,
    IReadOnlyList<string> CommandLines,
    IReadOnlySet<string> NamespacesInUse,
    IReadOnlyList<HostMount> Mounts)
{
    public static HostSnapshot Take(IEnumerable<string> directories)
    {
        var pids = new HashSet<int>();
        var commandLines = new List<string>();
        var namespaces = new HashSet<string>(StringComparer.Ordinal);
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid))
            {
                continue;
            }

            pids.Add(pid);
            try
            {
                commandLines.Add(File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ').TrimEnd());
                if (new FileInfo(Path.Combine(dir, "ns", "net")).LinkTarget is { } ns)
                {
                    namespaces.Add(ns);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The process ended while being read.
            }
        }

        var mounts = File.ReadLines("/proc/self/mountinfo").Select(line =>
        {
            var fields = line.Split(' ');
            var separator = Array.IndexOf(fields, "-");
            return new HostMount(fields[4], separator > 0 ? fields[separator + 1] : "", fields[3]);
        }).ToList();
        var links = Directory.EnumerateFileSystemEntries("/sys/class/net").Select(p => Path.GetFileName(p)).ToList();
        return new HostSnapshot(links, directories.ToList(), pids, commandLines, namespaces, mounts);
    }
}

/// <summary>A leftover directory and the mounts beneath it, deepest first.</summary>
public sealed record StaleDirectory(string Path, IReadOnlyList<string> Mounts);

/// <summary>What a sweep removes.</summary>
public sealed record SweepPlan(IReadOnlyList<string> Bridges, IReadOnlyList<StaleDirectory> Directories);

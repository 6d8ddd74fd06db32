using System.Text;
using KataSharp.Native;

namespace KataSharp.Tests.Integration.Infrastructure;

/// <summary>
/// Finds what a sandbox could leave behind on the host, judged from the kernel's own tables rather than
/// from the runtime's bookkeeping: QEMU processes (and katasharp CLI processes) whose command line names
/// this run's state directory or config, mount points under the state directory, Unix sockets bound
/// under it, and files or directories left in it.
/// </summary>
public static class Leftovers
{
    /// <summary>One line per leftover; empty when the host is clean.</summary>
    public static IReadOnlyList<string> Find(string stateDirectory)
    {
        var found = new List<string>();
        foreach (var (pid, cmdline) in ProcessesNaming(stateDirectory, TestEnvironment.ConfigPath).Concat(CliProcesses()))
        {
            found.Add($"process {pid}: {cmdline}");
        }

        foreach (var mount in MountPointsUnder(stateDirectory))
        {
            found.Add($"mount: {mount}");
        }

        foreach (var socket in UnixSocketsUnder(stateDirectory))
        {
            found.Add($"unix socket: {socket}");
        }

        found.AddRange(NetworkLeftovers());

        if (Directory.Exists(stateDirectory))
        {
            // What is left in the state directory, three levels deep (sandboxes/<id>/<file>), without going through mounts.
            var mounts = MountPointsUnder(stateDirectory).ToHashSet(StringComparer.Ordinal);
            var entries = new List<string>();
            void Walk(string dir, int depth)
            {
                foreach (var entry in Directory.EnumerateFileSystemEntries(dir).Order(StringComparer.Ordinal))
                {
                    var isDirectory = Directory.Exists(entry) && new FileInfo(entry).LinkTarget is null;
                    // The empty sandboxes/ directory is the manager's, not a sandbox's.
                    if (entry == Path.Combine(stateDirectory, "sandboxes") && !Directory.EnumerateFileSystemEntries(entry).Any())
                    {
                        continue;
                    }

                    entries.Add($"{(isDirectory ? "directory" : "file")}: {entry}");
                    if (isDirectory && depth < 3 && !mounts.Contains(entry))
                    {
                        Walk(entry, depth + 1);
                    }
                }
            }

            Walk(stateDirectory, 1);
            found.AddRange(entries.Take(60));
            if (entries.Count > 60)
            {
                found.Add($"... and {entries.Count - 60} more entries");
            }
        }

        return found;
    }

    /// <summary>The sandbox directories of the run, for the tests that check that one operation left nothing.</summary>
    public static IReadOnlyList<string> SandboxDirectories(string stateDirectory)
    {
        var sandboxes = Path.Combine(stateDirectory, "sandboxes");
        return Directory.Exists(sandboxes) ? Directory.GetDirectories(sandboxes) : [];
    }

    /// <summary>Processes (other than this one) whose command line contains any of <paramref name="needles"/>.</summary>
    public static IReadOnlyList<(int Pid, string CommandLine)> ProcessesNaming(params string[] needles)
    {
        var found = new List<(int, string)>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid) || pid == Environment.ProcessId)
            {
                continue;
            }

            string cmdline;
            try
            {
                cmdline = Encoding.UTF8.GetString(File.ReadAllBytes(Path.Combine(dir, "cmdline"))).Replace('\0', ' ').Trim();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue;
            }

            if (cmdline.Length > 0 && needles.Any(n => cmdline.Contains(n, StringComparison.Ordinal)))
            {
                found.Add((pid, cmdline));
            }
        }

        return found;
    }

    /// <summary>Running katasharp CLI processes of this run: the tests start them with $KATASHARP_CONFIG naming this run's config, which shows in their environment, not on their command line.</summary>
    public static IReadOnlyList<(int Pid, string CommandLine)> CliProcesses()
    {
        var found = new List<(int, string)>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid))
            {
                continue;
            }

            try
            {
                if (new FileInfo(Path.Combine(dir, "exe")).LinkTarget is { } exe && exe == TestEnvironment.CliPath
                    && Encoding.UTF8.GetString(File.ReadAllBytes(Path.Combine(dir, "environ"))).Contains(TestEnvironment.ConfigPath, StringComparison.Ordinal))
                {
                    found.Add((pid, Encoding.UTF8.GetString(File.ReadAllBytes(Path.Combine(dir, "cmdline"))).Replace('\0', ' ').Trim()));
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }

        return found;
    }

    /// <summary>QEMU processes of this run (their -qmp, -pidfile and -fsdev paths all sit in the state directory).</summary>
    public static IReadOnlyList<(int Pid, string CommandLine)> QemuProcesses(string stateDirectory) =>
        ProcessesNaming(stateDirectory).Where(p => p.CommandLine.Contains("qemu-system", StringComparison.Ordinal)).ToList();

    public static IReadOnlyList<string> MountPointsUnder(string directory)
    {
        var root = directory.TrimEnd('/');
        return File.ReadLines("/proc/self/mountinfo")
            .Select(line => line.Split(' '))
            .Where(fields => fields.Length > 4)
            .Select(fields => Unescape(fields[4]))
            .Where(point => point == root || point.StartsWith(root + "/", StringComparison.Ordinal))
            .Distinct()
            .OrderByDescending(point => point.Length)
            .ToList();
    }

    /// <summary>Bound Unix sockets (open in some process, whether or not their file still exists) under a directory.</summary>
    public static IReadOnlyList<string> UnixSocketsUnder(string directory)
    {
        var root = directory.TrimEnd('/') + "/";
        var found = File.ReadLines("/proc/net/unix")
            .Skip(1)
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(fields => fields.Length >= 8 && fields[7].StartsWith(root, StringComparison.Ordinal))
            .Select(fields => fields[7])
            .ToList();
        if (Directory.Exists(directory))
        {
            found.AddRange(Directory.EnumerateFiles(directory, "*.sock", SearchOption.AllDirectories));
        }

        return found.Distinct().ToList();
    }

    /// <summary>
    /// What the sandboxes' networks leave if their teardown is skipped: netns ks-*, host veths ksh*,
    /// and iptables rules tagged katasharp:. Names are the runtime's (runtime/KataSharp.Runtime/Network).
    /// </summary>
    public static IReadOnlyList<string> NetworkLeftovers()
    {
        var found = new List<string>();
        found.AddRange(Run("ip", "netns", "list").Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' ')[0]).Where(n => n.StartsWith("ks-", StringComparison.Ordinal)).Select(n => $"netns: {n}"));
        found.AddRange(Run("ip", "-o", "link", "show").Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(':', 3)[1].Trim().Split('@')[0]).Where(n => n.StartsWith("ksh", StringComparison.Ordinal)).Select(n => $"link: {n}"));
        foreach (var table in new[] { "nat", "filter" })
        {
            found.AddRange(Run("iptables", "-t", table, "-S").Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Where(l => l.Contains("katasharp:", StringComparison.Ordinal)).Select(l => $"iptables {table}: {l}"));
        }

        return found;
    }

    private static string Run(string file, params string[] args)
    {
        try
        {
            using var process = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(file, args)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            });
            if (process is null)
            {
                return "";
            }

            var output = process.StandardOutput.ReadToEnd();
            process.WaitForExit(10_000);
            return output;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "";
        }
    }

    /// <summary>Removes whatever is left: kills the processes, unmounts, deletes. Never deletes through a mount.</summary>
    public static void CleanUp(params string[] directories)
    {
        // katasharp rm -f undoes what only the runtime knows about (a sandbox's netns, veth and NAT rules).
        foreach (var sandbox in directories.SelectMany(SandboxDirectories))
        {
            Run(TestEnvironment.CliPath, "--config", TestEnvironment.ConfigPath, "rm", "-f", Path.GetFileName(sandbox));
        }

        foreach (var (pid, _) in ProcessesNaming([.. directories, TestEnvironment.ConfigPath]).Concat(CliProcesses()))
        {
            try
            {
                System.Diagnostics.Process.GetProcessById(pid).Kill();
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
            {
            }
        }

        foreach (var directory in directories)
        {
            foreach (var mount in MountPointsUnder(directory))
            {
                _ = Libc.Umount2(mount, Linux.MNT_DETACH);
            }

            if (Directory.Exists(directory) && MountPointsUnder(directory).Count == 0)
            {
                try
                {
                    Directory.Delete(directory, recursive: true);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                }
            }
        }
    }

    private static string Unescape(string field)
    {
        if (!field.Contains('\\', StringComparison.Ordinal))
        {
            return field;
        }

        var bytes = new List<byte>();
        for (var i = 0; i < field.Length; i++)
        {
            if (field[i] == '\\' && i + 3 < field.Length)
            {
                bytes.Add(Convert.ToByte(field.Substring(i + 1, 3), 8));
                i += 3;
            }
            else
            {
                bytes.AddRange(Encoding.UTF8.GetBytes(field[i].ToString()));
            }
        }

        return Encoding.UTF8.GetString(bytes.ToArray());
    }
}

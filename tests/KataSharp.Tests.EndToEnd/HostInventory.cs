using System.Diagnostics;

namespace KataSharp.Tests.EndToEnd;

/// <summary>
/// What a testbed's pods and jobs can leave on the host, by kind: QEMU, shim and CLI processes, mounts, taps, ingress
/// qdiscs, network namespaces, veths, sockets, sandbox and task directories, iptables rules, and the paths containerd
/// holds open. Compared before and after a run, anything new is a leak.
/// </summary>
public sealed record HostInventory(IReadOnlyDictionary<string, IReadOnlySet<string>> Items)
{
    public static HostInventory Take(ContainerdFixture containerd, int containerdPid)
    {
        var state = containerd.StateDir.TrimEnd('/') + "/";
        var ours = (string line) => line.Contains(state, StringComparison.Ordinal) || line.Contains(containerd.ConfigPath, StringComparison.Ordinal);
        var taskDir = Path.Combine(containerd.Daemon.Directory_, "state", "io.containerd.runtime.v2.task", "k8s.io");
        var items = new Dictionary<string, IReadOnlySet<string>>(StringComparer.Ordinal)
        {
            ["qemu"] = Pids(HostResources.ProcessesMentioning("qemu-system").Where(ours)),
            ["shim"] = Pids(HostResources.ProcessesMentioning("containerd-shim-katasharp-v2").Where(p => p.Contains(containerd.Daemon.Address, StringComparison.Ordinal))),
            ["cli"] = Pids(HostResources.ProcessesMentioning(containerd.ConfigPath).Where(p => p.Contains("katasharp --config", StringComparison.Ordinal))),
            ["mount"] = HostResources.MountsUnder(state).Concat(HostResources.MountsUnder(containerd.Daemon.Directory_)).Concat(HostResources.MountsUnder("/run/netns/")).ToHashSet(),
            ["tap"] = PodNetworkTests.HostTaps().ToHashSet(),
            ["qdisc"] = PodNetworkTests.HostIngressQdiscs().ToHashSet(),
            ["netns"] = Entries("/run/netns"),
            ["veth"] = PodNetworkTests.BridgePorts(containerd.BridgeName).Concat(Links().Where(l => l.StartsWith("ksh", StringComparison.Ordinal))).ToHashSet(),
            ["socket"] = UnixSockets(state).Concat(UnixSockets(taskDir)).ToHashSet(),
            ["directory"] = HostResources.SandboxDirectories(containerd.StateDir).Concat(Entries(taskDir)).ToHashSet(),
            ["iptables"] = IptablesRules(),
            ["fd"] = OpenPaths(containerdPid),
        };
        return new HostInventory(items);
    }

    /// <summary>Polls until nothing is left that <paramref name="before"/> lacks (teardown is asynchronous), and returns the last inventory.</summary>
    public static async Task<HostInventory> SettledAsync(ContainerdFixture containerd, int containerdPid, HostInventory before, TimeSpan timeout)
    {
        var after = Take(containerd, containerdPid);
        await HostResources.EventuallyAsync(() => Leaked(before, after = Take(containerd, containerdPid)).Count == 0, timeout);
        return after;
    }

    /// <summary>Each item of <paramref name="after"/> that <paramref name="before"/> lacks, as "kind: item".</summary>
    public static IReadOnlyList<string> Leaked(HostInventory before, HostInventory after) =>
        after.Items.SelectMany(kind => kind.Value.Except(before.Items[kind.Key]).Select(item => $"{kind.Key}: {item}")).ToList();

    /// <summary>"kind before->after" for every kind.</summary>
    public static string Compare(HostInventory before, HostInventory after) =>
        string.Join(", ", before.Items.Select(kind => $"{kind.Key} {kind.Value.Count}->{after.Items[kind.Key].Count}"));

    private static HashSet<string> Pids(IEnumerable<string> processes) => processes.Select(p => p.Split(':')[0]).ToHashSet();

    private static HashSet<string> Entries(string directory) =>
        Directory.Exists(directory) ? Directory.EnumerateFileSystemEntries(directory).ToHashSet() : [];

    private static IEnumerable<string> Links() => Directory.EnumerateFileSystemEntries("/sys/class/net").Select(p => Path.GetFileName(p));

    private static IEnumerable<string> UnixSockets(string under) =>
        File.ReadLines("/proc/net/unix").Skip(1)
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(fields => fields.Length >= 8 && fields[7].StartsWith(under, StringComparison.Ordinal))
            .Select(fields => fields[7]);

    /// <summary>Our rules: the runtime's (tagged katasharp:) and those CNI made for the pods (CNI-).</summary>
    private static HashSet<string> IptablesRules()
    {
        var rules = new HashSet<string>(StringComparer.Ordinal);
        foreach (var table in new[] { "nat", "filter" })
        {
            using var iptables = Process.Start(new ProcessStartInfo("iptables", ["-w", "5", "-t", table, "-S"]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false })!;
            var output = iptables.StandardOutput.ReadToEnd();
            iptables.WaitForExit(10_000);
            rules.UnionWith(output.Split('\n').Where(l => l.Contains("katasharp:", StringComparison.Ordinal) || l.Contains("CNI-", StringComparison.Ordinal)).Select(l => $"{table}: {l}"));
        }

        return rules;
    }

    /// <summary>The files and directories containerd holds open (sockets, pipes and anonymous inodes have no lasting name).</summary>
    private static HashSet<string> OpenPaths(int pid)
    {
        var paths = new HashSet<string>(StringComparer.Ordinal);
        foreach (var fd in Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd"))
        {
            try
            {
                if (new FileInfo(fd).LinkTarget is { } target && target.StartsWith('/'))
                {
                    paths.Add(target);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Closed while being read.
            }
        }

        return paths;
    }
}

using KataSharp.Runtime.Containerd;

namespace KataSharp.Cli.Check;

/// <summary>
/// The checks of what sits around the runtime: the host tools pod networking runs (iptables, tc, nsenter),
/// the CNI plugins, containerd, the shim on containerd's PATH, and the runtime in containerd's config.
/// </summary>
internal static class ToolChecks
{
    public static readonly string[] CniDirectories = ["/opt/cni/bin", "/usr/lib/cni"];

    private static readonly string[] CniPlugins = ["bridge", "host-local", "loopback", "portmap"];

    /// <param name="which">Finds an executable on PATH (a seam for tests).</param>
    /// <param name="exists">File.Exists.</param>
    public static IEnumerable<CheckResult> Tools(Func<string, string?> which, Func<string, bool> exists)
    {
        foreach (var (tool, why) in new[] { ("iptables", "NAT for `katasharp run`'s network"), ("tc", "the tap-to-veth redirect of pod networking"), ("nsenter", "`katasharp install` restarting containerd from a pod") })
        {
            yield return which(tool) is { } path
                ? new(CheckResult.Ok, tool, path)
                : new(CheckResult.Warn, tool, $"{tool} not on PATH; needed for {why}");
        }

        var cni = CniDirectories.FirstOrDefault(d => CniPlugins.All(p => exists(Path.Combine(d, p))));
        yield return cni is not null
            ? new(CheckResult.Ok, "CNI plugins", $"{string.Join(", ", CniPlugins)} in {cni}")
            : new(CheckResult.Warn, "CNI plugins", $"{string.Join(", ", CniPlugins)} not found in {string.Join(" or ", CniDirectories)} (apt-get install containernetworking-plugins); Kubernetes pods need them");

        yield return which("containerd-shim-katasharp-v2") is { } shim
            ? new(CheckResult.Ok, "shim", shim)
            : new(CheckResult.Warn, "shim", "containerd-shim-katasharp-v2 not on PATH; containerd 1.x finds shims only there (katasharp install links it into /usr/local/bin)");
    }

    public static CheckResult Containerd(ContainerdVersion? version) => version is null
        ? new(CheckResult.Warn, "containerd", "containerd not found on PATH; only `katasharp run` works without it")
        : new(CheckResult.Ok, "containerd", $"containerd {version} (reads a version {(version.IsV2OrLater ? 3 : 2)} config)");

    /// <summary>Whether containerd's config, or a file it imports, declares the katasharp runtime.</summary>
    public static CheckResult Registration(string configPath)
    {
        if (!File.Exists(configPath))
        {
            return new(CheckResult.Warn, "containerd runtime", $"{configPath} not found; katasharp install writes it");
        }

        var config = File.ReadAllText(configPath);
        if (RuntimeEntry.DeclaredAt(config) is > 0 and var line)
        {
            return new(CheckResult.Ok, "containerd runtime", $"katasharp in {configPath}:{line}");
        }

        foreach (var imported in ContainerdConfigEdits.Imports(config).SelectMany(Expand))
        {
            if (RuntimeEntry.DeclaredAt(File.ReadAllText(imported)) > 0)
            {
                return new(CheckResult.Ok, "containerd runtime", $"katasharp in {imported}, imported by {configPath}");
            }
        }

        return new(CheckResult.Warn, "containerd runtime", $"no katasharp runtime in {configPath} or its imports; run katasharp install");
    }

    /// <summary>An imports entry as containerd globs it (a pattern in the file name only).</summary>
    private static IEnumerable<string> Expand(string entry)
    {
        var directory = Path.GetDirectoryName(entry);
        var name = Path.GetFileName(entry);
        if (!name.Contains('*', StringComparison.Ordinal) && !name.Contains('?', StringComparison.Ordinal))
        {
            return File.Exists(entry) ? [entry] : [];
        }

        return directory is not null && Directory.Exists(directory) ? Directory.GetFiles(directory, name).Order(StringComparer.Ordinal) : [];
    }

    /// <summary>The first PATH directory holding <paramref name="name"/>.</summary>
    public static string? Which(string name) => (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
        .Concat(["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"])
        .Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);
}

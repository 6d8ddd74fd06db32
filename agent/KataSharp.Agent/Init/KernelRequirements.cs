using Microsoft.Extensions.Logging;

namespace KataSharp.Agent.Init;

/// <summary>
/// What the guest kernel must have for the agent, crun and the runtime to work, as far as a running guest can observe
/// it. Checked once at boot (after the system mounts and the module list): a kernel built without one of these
/// would otherwise fail much later and far from the cause (a share that never mounts, a container without limits).
/// Each requirement names the kernel option that provides it; guest-image/kernel/katasharp.config sets every one of
/// them, and a unit test holds the two lists together.
/// </summary>
internal sealed partial class KernelRequirements
{
    /// <summary>One thing the guest needs, how to see it, and the option that gives it.</summary>
    public sealed record Requirement(string What, string ConfigOption, Func<KernelView, bool> IsMet);

    public static readonly IReadOnlyList<Requirement> All =
    [
        FileSystem("proc", "CONFIG_PROC_FS"),
        FileSystem("sysfs", "CONFIG_SYSFS"),
        FileSystem("devtmpfs", "CONFIG_DEVTMPFS"),
        FileSystem("devpts", "CONFIG_UNIX98_PTYS"),
        FileSystem("tmpfs", "CONFIG_TMPFS"),
        FileSystem("cgroup2", "CONFIG_CGROUPS"),
        FileSystem("mqueue", "CONFIG_POSIX_MQUEUE"),
        FileSystem("overlay", "CONFIG_OVERLAY_FS"),
        FileSystem("9p", "CONFIG_9P_FS"),
        Controller("cpu", "CONFIG_CGROUP_SCHED"),
        Controller("cpuset", "CONFIG_CPUSETS"),
        Controller("memory", "CONFIG_MEMCG"),
        Controller("io", "CONFIG_BLK_CGROUP"),
        Controller("pids", "CONFIG_CGROUP_PIDS"),
        Path("seccomp filters", "/proc/sys/kernel/seccomp/actions_avail", "CONFIG_SECCOMP_FILTER"),
        Path("the bpf syscall (crun's cgroup device filter)", "/proc/sys/kernel/unprivileged_bpf_disabled", "CONFIG_BPF_SYSCALL"),
        Path("cgroup namespaces", "/proc/self/ns/cgroup", "CONFIG_CGROUPS"),
        Path("UTS namespaces", "/proc/self/ns/uts", "CONFIG_UTS_NS"),
        Path("IPC namespaces", "/proc/self/ns/ipc", "CONFIG_IPC_NS"),
        Path("PID namespaces", "/proc/self/ns/pid", "CONFIG_PID_NS"),
        Path("network namespaces", "/proc/self/ns/net", "CONFIG_NET_NS"),
        Path("user namespaces", "/proc/self/ns/user", "CONFIG_USER_NS"),
        Path("IPv6", "/proc/sys/net/ipv6", "CONFIG_IPV6"),
        Path("/proc/sysrq-trigger", "/proc/sysrq-trigger", "CONFIG_MAGIC_SYSRQ"),
    ];

    private readonly ILogger _logger;

    public KernelRequirements(ILogger<KernelRequirements> logger) => _logger = logger;

    /// <summary>The requirements <paramref name="kernel"/> does not meet, in the order of <see cref="All"/>.</summary>
    public static IReadOnlyList<Requirement> Missing(KernelView kernel) => All.Where(r => !r.IsMet(kernel)).ToList();

    /// <summary>The console line that names everything missing, with the options to add.</summary>
    public static string Describe(IReadOnlyList<Requirement> missing) =>
        "the guest kernel lacks what KataSharp needs: "
        + string.Join(", ", missing.Select(r => $"{r.What} ({r.ConfigOption})"))
        + "; build it with guest-image/kernel/katasharp.config, or use guest.kernel: debian";

    /// <summary>Fails fast, with every missing requirement named on the console, instead of failing later and elsewhere.</summary>
    public void EnsureMet(KernelView kernel)
    {
        var missing = Missing(kernel);
        if (missing.Count > 0)
        {
            var message = Describe(missing);
            LogMissing(_logger, message);
            throw new KernelRequirementException(message);
        }

        LogMet(_logger, All.Count);
    }

    private static Requirement FileSystem(string name, string option) =>
        new($"file system {name}", option, k => k.FileSystems.Contains(name));

    private static Requirement Controller(string name, string option) =>
        new($"cgroup controller {name}", option, k => k.CgroupControllers.Contains(name));

    private static Requirement Path(string what, string path, string option) => new(what, option, k => k.Exists(path));

    [LoggerMessage(Level = LogLevel.Critical, Message = "{Message}")]
    private static partial void LogMissing(ILogger logger, string message);

    [LoggerMessage(Level = LogLevel.Information, Message = "guest kernel: all {Count} requirements met")]
    private static partial void LogMet(ILogger logger, int count);
}

/// <summary>What a running guest shows of its kernel: /proc/filesystems, the controllers of /proc/cgroups, paths.</summary>
internal sealed record KernelView(IReadOnlySet<string> FileSystems, IReadOnlySet<string> CgroupControllers, Func<string, bool> Exists)
{
    /// <summary>
    /// This guest's kernel, read after the modules are loaded. The controllers come from /proc/cgroups, not from
    /// cgroup2's cgroup.controllers: cgroup2 is mounted only after the agent listens, and the kernel lists there
    /// what it was built with whether or not a hierarchy is mounted.
    /// </summary>
    public static KernelView OfThisGuest() => new(
        ParseFileSystems(ReadOrEmpty("/proc/filesystems")),
        ParseCgroupControllers(ReadOrEmpty("/proc/cgroups")),
        path => File.Exists(path) || Directory.Exists(path));

    /// <summary>
    /// /proc/cgroups: "subsys_name hierarchy num_cgroups enabled" per line, with cgroup v1's names; the enabled ones
    /// are given with cgroup2's names (v1's blkio is v2's io).
    /// </summary>
    public static IReadOnlySet<string> ParseCgroupControllers(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Where(line => !line.StartsWith('#'))
            .Select(line => line.Split('\t', ' ').Where(w => w.Length > 0).ToArray())
            .Where(fields => fields.Length >= 4 && fields[3].Trim() == "1")
            .Select(fields => fields[0] == "blkio" ? "io" : fields[0])
            .ToHashSet(StringComparer.Ordinal);

    /// <summary>/proc/filesystems: one per line, "nodev" first for the virtual ones.</summary>
    public static IReadOnlySet<string> ParseFileSystems(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split('\t', ' ').Last(w => w.Length > 0).Trim())
            .ToHashSet(StringComparer.Ordinal);

    private static string ReadOrEmpty(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }
}

/// <summary>The guest kernel cannot run KataSharp's guest; the message names what is missing.</summary>
internal sealed class KernelRequirementException : Exception
{
    public KernelRequirementException(string message) : base(message)
    {
    }
}

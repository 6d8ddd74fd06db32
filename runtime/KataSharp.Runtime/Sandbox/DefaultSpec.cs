using System.Text.Json.Nodes;
using KataSharp.Runtime.Images;

namespace KataSharp.Runtime.Sandbox;

/// <summary>The inputs of a default OCI spec.</summary>
public sealed record SpecOptions
{
    public required IReadOnlyList<string> Args { get; init; }
    public IReadOnlyList<string> Env { get; init; } = [];
    public string Cwd { get; init; } = "/";
    public bool Terminal { get; init; }
    public ProcessUser User { get; init; } = ProcessUser.Root;
    public string Hostname { get; init; } = "";
    public bool ReadOnlyRootfs { get; init; }

    /// <summary>Memory limit in bytes; null for none.</summary>
    public long? MemoryLimitBytes { get; init; }

    /// <summary>CPU limit in CPUs (e.g. 1.5); null for none.</summary>
    public double? CpuLimit { get; init; }
}

/// <summary>
/// A default OCI runtime spec (config.json), like <c>runc spec</c> and containerd's defaults: the
/// usual namespaces, the default capability set, masked and read-only /proc paths, and the
/// standard mounts. The network namespace is listed, and the agent drops it, because the VM is
/// the network boundary.
/// </summary>
public static class DefaultSpec
{
    public const string DefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    public const long CpuPeriod = 100_000;

    public static readonly IReadOnlyList<string> DefaultCapabilities =
    [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
        "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
    ];

    public static JsonObject Create(SpecOptions options)
    {
        var linux = new JsonObject
        {
            ["resources"] = Resources(options),
            ["namespaces"] = Array(new[] { "pid", "ipc", "uts", "mount", "network", "cgroup" }.Select(n => (JsonNode)new JsonObject { ["type"] = n })),
            ["maskedPaths"] = Strings("/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
                "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware"),
            ["readonlyPaths"] = Strings("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"),
        };

        return new JsonObject
        {
            ["ociVersion"] = "1.0.2",
            ["process"] = Process(options),
            ["root"] = new JsonObject { ["path"] = "rootfs", ["readonly"] = options.ReadOnlyRootfs },
            ["hostname"] = options.Hostname,
            ["mounts"] = new JsonArray(
                Mount("/proc", "proc", "proc", "nosuid", "noexec", "nodev"),
                Mount("/dev", "tmpfs", "tmpfs", "nosuid", "strictatime", "mode=755", "size=65536k"),
                Mount("/dev/pts", "devpts", "devpts", "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"),
                Mount("/dev/shm", "tmpfs", "shm", "nosuid", "noexec", "nodev", "mode=1777", "size=65536k"),
                Mount("/dev/mqueue", "mqueue", "mqueue", "nosuid", "noexec", "nodev"),
                Mount("/sys", "sysfs", "sysfs", "nosuid", "noexec", "nodev", "ro"),
                Mount("/sys/fs/cgroup", "cgroup", "cgroup", "nosuid", "noexec", "nodev", "relatime", "ro")),
            ["linux"] = linux,
        };
    }

    /// <summary>The spec's <c>process</c> object alone: what ExecProcess takes as process_json.</summary>
    public static JsonObject Process(SpecOptions options)
    {
        var env = new List<string>();
        if (!options.Env.Any(e => e.StartsWith("PATH=", StringComparison.Ordinal)))
        {
            env.Add(DefaultPath);
        }

        env.AddRange(options.Env);
        if (options.Terminal && !options.Env.Any(e => e.StartsWith("TERM=", StringComparison.Ordinal)))
        {
            env.Add("TERM=xterm");
        }

        var user = new JsonObject { ["uid"] = options.User.Uid, ["gid"] = options.User.Gid };
        if (options.User.AdditionalGids.Count > 0)
        {
            user["additionalGids"] = Array(options.User.AdditionalGids.Select(g => (JsonNode)g));
        }

        var capabilities = new JsonObject
        {
            ["bounding"] = Strings([.. DefaultCapabilities]),
            ["effective"] = Strings([.. DefaultCapabilities]),
            ["permitted"] = Strings([.. DefaultCapabilities]),
        };
        return new JsonObject
        {
            ["terminal"] = options.Terminal,
            ["user"] = user,
            ["args"] = Strings([.. options.Args]),
            ["env"] = Strings([.. env]),
            ["cwd"] = options.Cwd.Length == 0 ? "/" : options.Cwd,
            ["capabilities"] = capabilities,
            ["rlimits"] = new JsonArray(new JsonObject { ["type"] = "RLIMIT_NOFILE", ["hard"] = 1024, ["soft"] = 1024 }),
            ["noNewPrivileges"] = true,
        };
    }

    /// <summary>Adds a bind mount of a host path; the sandbox shares it with the guest when the container is created.</summary>
    public static void AddBindMount(JsonObject spec, string hostPath, string containerPath, bool readOnly)
    {
        var mounts = spec["mounts"] as JsonArray ?? [];
        spec["mounts"] = mounts;
        mounts.Add((JsonNode)Mount(containerPath, "bind", hostPath, "rbind", readOnly ? "ro" : "rw"));
    }

    private static JsonObject Resources(SpecOptions options)
    {
        var resources = new JsonObject
        {
            ["devices"] = new JsonArray(new JsonObject { ["allow"] = false, ["access"] = "rwm" }),
        };
        if (options.MemoryLimitBytes is { } memory)
        {
            resources["memory"] = new JsonObject { ["limit"] = memory };
        }

        if (options.CpuLimit is { } cpus)
        {
            resources["cpu"] = new JsonObject { ["quota"] = (long)Math.Ceiling(cpus * CpuPeriod), ["period"] = CpuPeriod };
        }

        return resources;
    }

    private static JsonObject Mount(string destination, string type, string source, params string[] options) => new()
    {
        ["destination"] = destination,
        ["type"] = type,
        ["source"] = source,
        ["options"] = Strings(options),
    };

    private static JsonArray Strings(params string[] values) => Array(values.Select(v => (JsonNode)v));

    private static JsonArray Array(IEnumerable<JsonNode> nodes) => new(nodes.ToArray<JsonNode?>());
}

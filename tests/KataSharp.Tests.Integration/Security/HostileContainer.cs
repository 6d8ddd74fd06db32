using System.Text.Json.Nodes;

namespace KataSharp.Tests.Integration.Security;

/// <summary>
/// The attacker of these tests: a container that is uid 0 with every capability, no seccomp, every device
/// allowed, and (where asked) the guest's own PID namespace, so that <c>/proc/1/root</c> reaches the agent's
/// mount of the share: as much as root in the guest can do. The agent runs such a spec as it is given.
/// </summary>
internal static class HostileContainer
{
    /// <summary>Where the agent mounts the share in the guest (its default; the host sends no mount point).</summary>
    public const string GuestShare = "/proc/1/root/run/katasharp/shared";

    private static readonly string[] AllCapabilities =
    [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID",
        "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
        "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
        "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",
        "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
        "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
    ];

    public static void Apply(JsonObject spec, bool guestPidNamespace)
    {
        var process = spec["process"]!.AsObject();
        process["noNewPrivileges"] = false;
        process["capabilities"] = new JsonObject
        {
            ["bounding"] = Strings(AllCapabilities),
            ["effective"] = Strings(AllCapabilities),
            ["permitted"] = Strings(AllCapabilities),
        };
        var linux = spec["linux"]!.AsObject();
        linux["resources"]!["devices"] = new JsonArray(new JsonObject { ["allow"] = true, ["access"] = "rwm" });
        linux.Remove("maskedPaths");
        linux.Remove("readonlyPaths");
        linux.Remove("seccomp");
        if (guestPidNamespace)
        {
            var namespaces = linux["namespaces"]!.AsArray();
            namespaces.Remove(namespaces.First(n => n!["type"]!.GetValue<string>() == "pid"));
        }
    }

    private static JsonArray Strings(IEnumerable<string> values) => new(values.Select(v => (JsonNode)v).ToArray<JsonNode?>());
}

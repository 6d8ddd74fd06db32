using System.Text.Json;
using System.Text.Json.Nodes;
using KataSharp.Protocol;

namespace KataSharp.Agent.Containers;

/// <summary>What the guest knows that the host's spec cannot.</summary>
internal sealed record SpecTranslationInput(string ContainerId, string SharedDir, string Rootfs, bool Terminal, int? SandboxInitPid)
{
    /// <summary>CreateSandbox asked for one PID namespace for the whole pod.</summary>
    public bool SharePidNamespace { get; init; }

    /// <summary>The guest's device nodes, asked for only when the spec is privileged.</summary>
    public Func<IReadOnlyList<GuestDevice>> ReadGuestDevices { get; init; } = () => [];
}

/// <summary>
/// Turns the host's OCI spec into one crun can run in the guest. Works on a JsonNode tree so
/// fields this code does not know pass through unchanged.
/// </summary>
internal static class SpecTranslator
{
    /// <summary>Namespaces a container may join from the sandbox container: the pod-level ones.</summary>
    private static readonly string[] JoinableNamespaces = ["ipc", "uts", "pid"];

    /// <summary>Where crun puts the container's cgroup, below the guest's cgroup root.</summary>
    public static string CgroupsPath(string containerId) => $"/katasharp/{containerId}";

    public static JsonObject Translate(ReadOnlySpan<byte> specJson, SpecTranslationInput input)
    {
        var spec = ParseObject(specJson, "spec_json");
        OciVersionNormalizer.Normalize(spec);

        var root = OptionalObject(spec, "root", "spec.root") ?? new JsonObject();
        root["path"] = SharedPaths.Resolve(input.SharedDir, input.Rootfs, "rootfs");
        spec["root"] = root;

        var process = OptionalObject(spec, "process", "spec.process")
            ?? throw AgentErrors.InvalidArgument("spec.process is missing");
        TranslateProcess(process, input.Terminal, "spec.process");

        if (spec["mounts"] is { } mountsNode)
        {
            if (mountsNode is not JsonArray mounts)
            {
                throw AgentErrors.InvalidArgument("spec.mounts must be an array");
            }

            for (var i = 0; i < mounts.Count; i++)
            {
                TranslateMount(mounts[i], i, input.SharedDir);
            }
        }

        // Hooks are host programs; they do not exist in the guest.
        spec.Remove("hooks");

        var linux = OptionalObject(spec, "linux", "spec.linux") ?? new JsonObject();
        spec["linux"] = linux;
        linux["cgroupsPath"] = CgroupsPath(input.ContainerId);
        // No SELinux policy in the guest.
        linux.Remove("mountLabel");
        if (linux["namespaces"] is { } namespacesNode)
        {
            if (namespacesNode is not JsonArray namespaces)
            {
                throw AgentErrors.InvalidArgument("spec.linux.namespaces must be an array");
            }

            TranslateNamespaces(namespaces, input.SandboxInitPid, input.SharePidNamespace);
            JoinGuestNetworkForSysctls(linux, namespaces);
            OwnCgroupNamespace(namespaces);
        }

        PrivilegedDevices.Apply(spec, input.ReadGuestDevices);

        return spec;
    }

    /// <summary>The process of an exec: the same rules as the container's own process.</summary>
    public static JsonObject TranslateProcess(ReadOnlySpan<byte> processJson, bool terminal)
    {
        var process = ParseObject(processJson, "process_json");
        OciVersionNormalizer.CheckProcess(process);
        TranslateProcess(process, terminal, "process");
        return process;
    }

    private static void TranslateProcess(JsonObject process, bool terminal, string where)
    {
        if (process["args"] is not JsonArray args || args.Count == 0 || args.Any(a => a?.GetValueKind() != JsonValueKind.String))
        {
            throw AgentErrors.InvalidArgument($"{where}.args must be a non-empty array of strings");
        }

        // The pty exists only if the host asked for one in StdioOptions; the two must agree.
        process["terminal"] = terminal;
        // Host LSM profiles are not loaded in the guest, and crun would fail to apply them.
        process.Remove("apparmorProfile");
        process.Remove("selinuxLabel");
    }

    private static void TranslateMount(JsonNode? node, int index, string sharedDir)
    {
        if (node is not JsonObject mount)
        {
            throw AgentErrors.InvalidArgument($"spec.mounts[{index}] must be an object");
        }

        if (!TryGetString(mount, "destination", out var destination) || destination.Length == 0)
        {
            throw AgentErrors.InvalidArgument($"spec.mounts[{index}].destination is missing");
        }

        if (!IsBindMount(mount))
        {
            // proc, tmpfs, devpts, mqueue, sysfs, cgroup: guest kernel file systems, nothing to map.
            return;
        }

        if (!TryGetString(mount, "source", out var source))
        {
            throw AgentErrors.InvalidArgument($"spec.mounts[{index}] ({destination}) is a bind mount without a source");
        }

        mount["source"] = SharedPaths.Resolve(sharedDir, source, $"bind source of {destination}");
    }

    internal static bool IsBindMount(JsonObject mount)
    {
        if (TryGetString(mount, "type", out var type) && type == "bind")
        {
            return true;
        }

        return mount["options"] is JsonArray options
            && options.Any(o => o?.GetValueKind() == JsonValueKind.String && o.GetValue<string>() is "bind" or "rbind");
    }

    private static void TranslateNamespaces(JsonArray namespaces, int? sandboxInitPid, bool sharePidNamespace)
    {
        if (sharePidNamespace && sandboxInitPid is { } sandbox)
        {
            // The pod shares one PID namespace: join the sandbox container's, path or not.
            var pid = namespaces.OfType<JsonObject>().FirstOrDefault(n => TryGetString(n, "type", out var t) && t == "pid");
            if (pid is null)
            {
                pid = new JsonObject { ["type"] = "pid" };
                namespaces.Add((JsonNode)pid);
            }

            pid["path"] = $"/proc/{sandbox}/ns/pid";
        }

        for (var i = namespaces.Count - 1; i >= 0; i--)
        {
            if (namespaces[i] is not JsonObject ns || !TryGetString(ns, "type", out var type))
            {
                throw AgentErrors.InvalidArgument($"spec.linux.namespaces[{i}] must be an object with a type");
            }

            if (type == "network")
            {
                // Containers share the guest's network namespace: the VM is the pod's network.
                namespaces.RemoveAt(i);
                continue;
            }

            if (ns["path"] is null)
            {
                continue;
            }

            // A path here is a host path (/proc/<pid>/ns/...). Join the sandbox container's
            // namespace instead where the pod shares one; otherwise make a new namespace.
            if (sandboxInitPid is { } pid && JoinableNamespaces.Contains(type))
            {
                ns["path"] = $"/proc/{pid}/ns/{type}";
            }
            else
            {
                ns.Remove("path");
            }
        }
    }

    /// <summary>
    /// crun writes net.* sysctls (containerd 2.x sets net.ipv4.ip_unprivileged_port_start on every
    /// pod) only for a spec that names a network namespace. The container is in the guest's anyway,
    /// which is the pod's: name that one, and the sysctl applies to the pod as CRI means it to.
    /// </summary>
    private static void JoinGuestNetworkForSysctls(JsonObject linux, JsonArray namespaces)
    {
        if (linux["sysctl"] is not JsonObject sysctl || !sysctl.Any(s => s.Key.StartsWith("net.", StringComparison.Ordinal)))
        {
            return;
        }

        namespaces.Add((JsonNode)new JsonObject { ["type"] = "network", ["path"] = GuestNetworkNamespace });
    }

    /// <summary>
    /// containerd asks for a cgroup namespace only on cgroup v2 hosts; on a v1 host runc shows the container its own
    /// cgroups at /sys/fs/cgroup anyway. The guest is cgroup v2, where only a namespace of its own does that: without
    /// one the container would see the guest's whole hierarchy, and not its own limits.
    /// </summary>
    private static void OwnCgroupNamespace(JsonArray namespaces)
    {
        if (!namespaces.OfType<JsonObject>().Any(n => TryGetString(n, "type", out var t) && t == "cgroup"))
        {
            namespaces.Add((JsonNode)new JsonObject { ["type"] = "cgroup" });
        }
    }

    /// <summary>The agent's own network namespace, which every container of the guest shares.</summary>
    internal static string GuestNetworkNamespace => $"/proc/{Environment.ProcessId}/ns/net";

    private static JsonObject ParseObject(ReadOnlySpan<byte> json, string field)
    {
        if (json.IsEmpty)
        {
            throw AgentErrors.InvalidArgument($"{field} is empty");
        }

        JsonNode? node;
        try
        {
            node = StrictJson.Parse(json);
        }
        catch (JsonException e)
        {
            throw AgentErrors.InvalidArgument($"{field} is not valid JSON: {e.Message}");
        }

        return node as JsonObject ?? throw AgentErrors.InvalidArgument($"{field} must be a JSON object");
    }

    private static JsonObject? OptionalObject(JsonObject parent, string name, string where) => parent[name] switch
    {
        null => null,
        JsonObject o => o,
        _ => throw AgentErrors.InvalidArgument($"{where} must be an object"),
    };

    private static bool TryGetString(JsonObject o, string name, out string value)
    {
        if (o[name] is JsonValue v && v.GetValueKind() == JsonValueKind.String)
        {
            value = v.GetValue<string>();
            return true;
        }

        value = string.Empty;
        return false;
    }
}

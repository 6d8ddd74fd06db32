using System.Text.Json.Nodes;

namespace KataSharp.Agent.Containers;

/// <summary>
/// Lets the guest's crun 1.8.1 run specs that containerd 2.x writes as OCI 1.2 and later.
/// crun 1.8.1 refuses any <c>ociVersion</c> that does not contain "1.0" ("unknown version
/// specified"), yet parses every 1.1+ field except the ones listed here, which it would silently
/// ignore. So a 1.x spec that sets none of them is rewritten to 1.0.2; one that sets any is refused,
/// naming the field, rather than run without what it asked for.
/// </summary>
internal static class OciVersionNormalizer
{
    /// <summary>The version the guest's crun accepts.</summary>
    public const string GuestVersion = "1.0.2";

    /// <summary>
    /// The runtime-spec (v1.3.0 schema) fields crun 1.8.1's parser does not know: every Linux key
    /// of the schema was looked up in the crun binary's strings, and these alone were absent.
    /// </summary>
    private static readonly string[] UnsupportedProcessFields = ["ioPriority", "scheduler", "execCPUAffinity"];

    private static readonly string[] UnsupportedSpecFields =
        ["linux.netDevices", "linux.timeOffsets", "linux.memoryPolicy", "linux.intelRdt.schemata", "linux.intelRdt.enableMonitoring"];

    /// <summary>Rewrites <c>ociVersion</c> of a container's spec when the guest's crun can run it.</summary>
    /// <exception cref="KataSharp.Protocol.Errors.KataSharpException">InvalidArgument for a malformed version,
    /// FailedPrecondition for a version or field crun cannot honour.</exception>
    public static void Normalize(JsonObject spec)
    {
        if (spec["process"] is JsonObject process)
        {
            RefuseUnsupported(process, "spec.process", UnsupportedProcessFields);
        }

        RefuseUnsupported(spec, "spec", UnsupportedSpecFields);

        // crun accepts a spec without a version; only a present one is checked.
        if (spec["ociVersion"] is null)
        {
            return;
        }

        if (spec["ociVersion"] is not JsonValue node || !node.TryGetValue<string>(out var version))
        {
            throw AgentErrors.InvalidArgument("spec.ociVersion must be a string");
        }

        var parts = version.Split('.', 3);
        if (parts.Length < 2 || !int.TryParse(parts[0], out var major) || !int.TryParse(parts[1], out var minor))
        {
            throw AgentErrors.InvalidArgument($"spec.ociVersion \"{version}\" is not a version");
        }

        if (major != 1)
        {
            throw AgentErrors.FailedPrecondition($"spec.ociVersion {version}: the guest runs OCI runtime spec 1.x only");
        }

        if (minor > 0)
        {
            spec["ociVersion"] = GuestVersion;
        }
    }

    /// <summary>Refuses an exec's process that sets a field crun 1.8.1 would ignore.</summary>
    public static void CheckProcess(JsonObject process) => RefuseUnsupported(process, "process", UnsupportedProcessFields);

    private static void RefuseUnsupported(JsonObject root, string where, string[] paths)
    {
        foreach (var path in paths)
        {
            JsonNode? node = root;
            foreach (var name in path.Split('.'))
            {
                node = (node as JsonObject)?[name];
            }

            if (node is not null && !IsUnset(node))
            {
                throw AgentErrors.FailedPrecondition($"{where}.{path} needs a newer OCI runtime than the guest's crun 1.8.1, which would ignore it");
            }
        }
    }

    /// <summary>Empty objects, arrays and strings, and false, ask for nothing.</summary>
    private static bool IsUnset(JsonNode value) => value switch
    {
        JsonObject o => o.Count == 0,
        JsonArray a => a.Count == 0,
        JsonValue v when v.TryGetValue<string>(out var s) => s.Length == 0,
        JsonValue v when v.TryGetValue<bool>(out var b) => !b,
        _ => false,
    };
}

using System.Text.Json;
using System.Text.Json.Nodes;

namespace KataSharp.Agent.Containers;

/// <summary>
/// A privileged container may use every device of the kernel it runs on, which here is the guest's. Host device
/// nodes in the spec carry the host's major and minor numbers, which name other devices or none in the guest; they
/// are never created. A privileged spec has its <c>linux.devices</c> replaced by the guest's devices and its device
/// cgroup opened to all of them, as runc does on the host with the host's.
/// </summary>
internal static class PrivilegedDevices
{
    /// <summary>
    /// containerd's WithPrivileged leaves this fingerprint (any of its releases, with or without
    /// <c>privileged_without_host_devices</c>): no masked or read-only paths, no seccomp filter, and CAP_SYS_ADMIN
    /// and CAP_MKNOD in the bounding set. A device cgroup that allows every device says the same on its own
    /// (<c>ctr run --privileged</c>, or <c>privileged_without_host_devices_all_devices_allowed</c>).
    /// </summary>
    public static bool IsPrivileged(JsonObject spec)
    {
        var linux = spec["linux"] as JsonObject;
        if (AllowsEveryDevice((linux?["resources"] as JsonObject)?["devices"] as JsonArray))
        {
            return true;
        }

        var bounding = ((spec["process"] as JsonObject)?["capabilities"] as JsonObject)?["bounding"] as JsonArray;
        return IsEmpty(linux?["maskedPaths"]) && IsEmpty(linux?["readonlyPaths"]) && linux?["seccomp"] is null
            && Strings(bounding).Contains("CAP_SYS_ADMIN") && Strings(bounding).Contains("CAP_MKNOD");
    }

    /// <summary>Gives a privileged spec the guest's devices in place of whatever it listed; other specs are left alone.</summary>
    public static void Apply(JsonObject spec, Func<IReadOnlyList<GuestDevice>> guestDevices)
    {
        if (!IsPrivileged(spec))
        {
            return;
        }

        var linux = spec["linux"] as JsonObject ?? new JsonObject();
        spec["linux"] = linux;
        var devices = new JsonArray();
        foreach (var device in guestDevices())
        {
            devices.Add((JsonNode)new JsonObject
            {
                ["path"] = device.Path,
                ["type"] = device.Type.ToString(),
                ["major"] = device.Major,
                ["minor"] = device.Minor,
                ["fileMode"] = device.FileMode,
                ["uid"] = 0,
                ["gid"] = 0,
            });
        }

        linux["devices"] = devices;
        var resources = linux["resources"] as JsonObject ?? new JsonObject();
        linux["resources"] = resources;
        resources["devices"] = new JsonArray((JsonNode)new JsonObject { ["allow"] = true, ["access"] = "rwm" });
    }

    private static bool AllowsEveryDevice(JsonArray? rules) =>
        rules is not null && rules.OfType<JsonObject>().Any(r =>
            r["allow"] is JsonValue allow && allow.GetValueKind() == JsonValueKind.True
            && r["major"] is null && r["minor"] is null
            && (r["type"] is null || IsString(r["type"], "a"))
            && IsString(r["access"], "rwm"));

    private static bool IsString(JsonNode? node, string expected) =>
        node is JsonValue v && v.GetValueKind() == JsonValueKind.String && v.GetValue<string>() == expected;

    private static bool IsEmpty(JsonNode? node) => node is null || node is JsonArray { Count: 0 };

    private static HashSet<string> Strings(JsonArray? array) =>
        array is null ? [] : array.OfType<JsonValue>().Where(v => v.GetValueKind() == JsonValueKind.String).Select(v => v.GetValue<string>()).ToHashSet(StringComparer.Ordinal);
}

using System.Text.Json.Nodes;

namespace KataSharp.Shim.TaskService;

/// <summary>
/// Adjusts a containerd spec for a container that runs in the guest. CRI binds the pod's
/// /dev/shm from a tmpfs on the node; shared over 9p that would put the pod's shared memory on
/// the host, outside the VM's memory and its cgroup accounting, so the guest gets a tmpfs instead, of CRI's
/// size; the agent makes it one tmpfs for the whole pod, as CRI's is (agent Containers/PodShm).
/// </summary>
internal static class GuestSpecAdapter
{
    private const string ShmSize = "size=65536k";

    public static JsonObject Adapt(JsonObject spec)
    {
        var adapted = spec.DeepClone().AsObject();
        if (adapted["mounts"] is not JsonArray mounts)
        {
            return adapted;
        }

        for (var i = 0; i < mounts.Count; i++)
        {
            if (mounts[i] is JsonObject mount && Text(mount["destination"]) == "/dev/shm" && IsBind(mount))
            {
                var readOnly = mount["options"] is JsonArray options && options.Any(o => Text(o) == "ro");
                mounts[i] = new JsonObject
                {
                    ["destination"] = "/dev/shm",
                    ["type"] = "tmpfs",
                    ["source"] = "shm",
                    ["options"] = new JsonArray("nosuid", "noexec", "nodev", "mode=1777", ShmSize, readOnly ? "ro" : "rw"),
                };
            }
        }

        return adapted;
    }

    private static bool IsBind(JsonObject mount) =>
        Text(mount["type"]) == "bind"
        || (mount["options"] is JsonArray options && options.Any(o => Text(o) is "bind" or "rbind"));

    /// <summary>A string value, or null for anything else: a mount of another shape is the agent's to refuse, not a reason to fail here.</summary>
    private static string? Text(JsonNode? node) => node is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;
}

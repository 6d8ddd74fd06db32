using System.Text.Json.Nodes;
using KataSharp.Protocol;

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
            if (mounts[i] is JsonObject mount && StrictJson.Text(mount["destination"]) == "/dev/shm" && IsBind(mount))
            {
                var readOnly = mount["options"] is JsonArray options && options.Any(o => StrictJson.Text(o) == "ro");
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

    // A mount of another shape (a number for a string) is the agent's to refuse, not a reason to fail here.
    private static bool IsBind(JsonObject mount) =>
        StrictJson.Text(mount["type"]) == "bind"
        || (mount["options"] is JsonArray options && options.Any(o => StrictJson.Text(o) is "bind" or "rbind"));
}

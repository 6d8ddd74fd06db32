using System.Text.Json.Nodes;
using KataSharp.Protocol.Errors;

namespace KataSharp.Shim.TaskService;

/// <summary>
/// Which mount propagation a host volume can have across the VM boundary. Host to container (rslave, CRI's
/// HostToContainer) works: the share is a slave tree of the host's binds, so a mount the host makes under a
/// volume appears in what 9p or virtio-fs serves. Container to host (shared or rshared, CRI's Bidirectional)
/// cannot: a mount made in the guest exists only in the guest's kernel, and the host must never take mounts
/// from a hostile guest anyway. Such a volume is refused rather than silently given one-way propagation.
/// </summary>
internal static class VolumePropagation
{
    private static readonly string[] BothWays = ["shared", "rshared"];

    /// <exception cref="KataSharpException">FailedPrecondition naming the first volume that asks for propagation back to the host.</exception>
    public static void RequireHostToContainerOnly(JsonObject spec)
    {
        if (spec["mounts"] is not JsonArray mounts)
        {
            return;
        }

        foreach (var mount in mounts.OfType<JsonObject>())
        {
            if (mount["options"] is not JsonArray options
                || options.Select(o => o?.GetValue<string>()).FirstOrDefault(o => BothWays.Contains(o)) is not { } propagation)
            {
                continue;
            }

            var destination = mount["destination"]?.GetValue<string>() ?? "?";
            var source = mount["source"]?.GetValue<string>() ?? "?";
            throw Errdefs.FailedPrecondition(
                $"mount {destination} (from {source}) asks for {propagation} propagation (mountPropagation: Bidirectional): mounts made inside a VM "
                + "cannot reach the host, so only HostToContainer (rslave) or None can be honoured; run this container with another RuntimeClass");
        }
    }
}

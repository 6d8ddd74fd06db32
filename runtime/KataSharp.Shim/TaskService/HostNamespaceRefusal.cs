using System.Text.Json.Nodes;
using KataSharp.Protocol.Errors;

namespace KataSharp.Shim.TaskService;

/// <summary>
/// A spec without a PID or IPC namespace asks for the host's (hostPID, hostIPC). A container in the guest
/// cannot have the node's, and a private one in its place would quietly be something else: it is refused
/// before anything is made, as host networking is (<see cref="PodVm"/>).
/// </summary>
internal static class HostNamespaceRefusal
{
    private static readonly (string Type, string Refusal)[] Refused =
    [
        ("pid", "the host's PID namespace (hostPID: true) cannot be honoured inside a VM: the guest kernel has its own process table, without the node's processes; run this pod with another RuntimeClass"),
        ("ipc", "the host's IPC namespace (hostIPC: true) cannot be honoured inside a VM: the guest kernel's System V IPC and POSIX message queues are its own, not the node's; run this pod with another RuntimeClass"),
    ];

    /// <exception cref="KataSharpException">FailedPrecondition naming the host namespace asked for.</exception>
    public static void Check(JsonObject spec)
    {
        var types = (spec["linux"] as JsonObject)?["namespaces"] is JsonArray namespaces
            ? namespaces.Select(n => (n as JsonObject)?["type"] is JsonValue v && v.TryGetValue<string>(out var type) ? type : null).ToHashSet()
            : [];
        foreach (var (type, refusal) in Refused)
        {
            if (!types.Contains(type))
            {
                throw Errdefs.FailedPrecondition(refusal);
            }
        }
    }
}

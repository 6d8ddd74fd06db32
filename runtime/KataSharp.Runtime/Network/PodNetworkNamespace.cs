using System.Text.Json.Nodes;
using KataSharp.Runtime.Sandbox;

namespace KataSharp.Runtime.Network;

/// <summary>What an OCI spec asks of the network.</summary>
public enum OciNetworkKind
{
    /// <summary>No network namespace entry: the container wants the host's network.</summary>
    Host,

    /// <summary>An entry without a path: a fresh, empty namespace (ctr run without CNI).</summary>
    NewNamespace,

    /// <summary>An entry with a path: join that namespace (a CNI-prepared pod netns).</summary>
    Namespace,
}

/// <summary>
/// Reads the network namespace of a sandbox container's OCI spec and turns it into a
/// <see cref="SandboxNetworkRequest"/>, refusing what a VM cannot do.
/// </summary>
public static class PodNetworkNamespace
{
    /// <summary>containerd's CRI plugin marks the pod sandbox (pause) container with this annotation.</summary>
    public const string CriContainerTypeAnnotation = "io.kubernetes.cri.container-type";

    public static (OciNetworkKind Kind, string? Path) FromOciSpec(JsonNode? spec)
    {
        if (spec?["linux"]?["namespaces"] is not JsonArray namespaces)
        {
            return (OciNetworkKind.Host, null);
        }

        foreach (var ns in namespaces.OfType<JsonObject>())
        {
            if (Text(ns["type"]) == "network")
            {
                return Text(ns["path"]) is { Length: > 0 } path ? (OciNetworkKind.Namespace, path) : (OciNetworkKind.NewNamespace, null);
            }
        }

        return (OciNetworkKind.Host, null);
    }

    public static bool IsCriSandbox(JsonNode? spec) =>
        spec?["annotations"] is JsonObject annotations && Text(annotations[CriContainerTypeAnnotation]) == "sandbox";

    /// <summary>A string value, or null for anything else (a malformed spec must not crash the shim).</summary>
    private static string? Text(JsonNode? node) => node is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;

    /// <summary>
    /// The network request for a sandbox container's spec: its namespace's endpoints when it names one, no NIC
    /// for a fresh empty namespace (there is nothing to mirror, as with Kata), and an error for host networking.
    /// </summary>
    /// <exception cref="SandboxException">FailedPrecondition: the spec asks for the host's network.</exception>
    public static SandboxNetworkRequest RequestFor(JsonNode? spec)
    {
        var (kind, path) = FromOciSpec(spec);
        return kind switch
        {
            OciNetworkKind.Namespace => SandboxNetworkRequest.PodNamespace(path!),
            OciNetworkKind.NewNamespace => SandboxNetworkRequest.None,
            _ => throw HostNetworkingUnsupported(IsCriSandbox(spec)),
        };
    }

    /// <summary>The error for a pod (or ctr --net-host container) that wants the host's network namespace.</summary>
    public static SandboxException HostNetworkingUnsupported(bool criPod = true) => new(SandboxErrorCode.FailedPrecondition,
        (criPod ? "host networking (hostNetwork: true)" : "host networking (the spec has no network namespace, e.g. ctr run --net-host)") +
        " cannot be honoured inside a VM: the containers would share the VM's network stack, not the node's. " +
        (criPod ? "Set hostNetwork: false, or run this pod with a runc RuntimeClass." : "Run it without --net-host, or with runc."));
}

using System.Text.Json.Nodes;
using KataSharp.Protocol;

namespace KataSharp.Shim.Lifecycle;

/// <summary>What the shim reads from a bundle's config.json before anything else: how to group it.</summary>
internal sealed class BundleSpec
{
    public const string ContainerTypeAnnotation = "io.kubernetes.cri.container-type";
    public const string SandboxIdAnnotation = "io.kubernetes.cri.sandbox-id";
    public const string RuncGroupAnnotation = "io.containerd.runc.v2.group";

    private BundleSpec(JsonObject spec, IReadOnlyDictionary<string, string> annotations)
    {
        Spec = spec;
        Annotations = annotations;
    }

    public JsonObject Spec { get; }

    public IReadOnlyDictionary<string, string> Annotations { get; }

    /// <summary>The host cgroup containerd names for the container (<c>linux.cgroupsPath</c>); null when it names none.</summary>
    public string? CgroupsPath => StrictJson.Text((Spec["linux"] as JsonObject)?["cgroupsPath"]);

    /// <summary>A CRI sandbox, or a container with no CRI annotations (ctr run): either one makes the VM.</summary>
    public bool CreatesSandbox =>
        !Annotations.TryGetValue(ContainerTypeAnnotation, out var type) || type == "sandbox";

    /// <summary>The pod a container belongs to: its shim and VM are the pod's.</summary>
    public string GroupId(string containerId) =>
        Annotations.TryGetValue(SandboxIdAnnotation, out var sandbox) && sandbox.Length > 0 ? sandbox
        : Annotations.TryGetValue(RuncGroupAnnotation, out var group) && group.Length > 0 ? group
        : containerId;

    /// <exception cref="InvalidDataException">config.json is missing or malformed.</exception>
    public static BundleSpec Load(string bundle)
    {
        var path = Path.Combine(bundle, "config.json");
        JsonNode? node;
        try
        {
            node = StrictJson.Parse(File.ReadAllBytes(path));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Text.Json.JsonException)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }

        if (node is not JsonObject spec)
        {
            throw new InvalidDataException($"{path}: the OCI spec must be a JSON object");
        }

        var annotations = new Dictionary<string, string>();
        if (spec["annotations"] is JsonObject a)
        {
            foreach (var (key, value) in a)
            {
                if (value is JsonValue v && v.TryGetValue<string>(out var s))
                {
                    annotations[key] = s;
                }
            }
        }

        return new BundleSpec(spec, annotations);
    }
}

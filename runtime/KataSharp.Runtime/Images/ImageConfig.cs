using System.Text.Json.Nodes;

namespace KataSharp.Runtime.Images;

/// <summary>The parts of an OCI image config (<c>config</c> object) that shape a container's process.</summary>
public sealed record ImageConfig
{
    public IReadOnlyList<string> Env { get; init; } = [];
    public IReadOnlyList<string> Entrypoint { get; init; } = [];
    public IReadOnlyList<string> Cmd { get; init; } = [];
    public string WorkingDir { get; init; } = "";
    public string User { get; init; } = "";

    /// <summary>The manifest digest the image was read from.</summary>
    public string ManifestDigest { get; init; } = "";

    /// <summary>Reads the process parts of an image config blob.</summary>
    internal static ImageConfig FromJson(JsonObject configBlob, string manifestDigest)
    {
        var config = configBlob["config"] as JsonObject;
        static List<string> Strings(JsonNode? node) =>
            node is JsonArray array ? array.Select(s => s?.GetValue<string>() ?? "").ToList() : [];
        return new ImageConfig
        {
            Env = Strings(config?["Env"]),
            Entrypoint = Strings(config?["Entrypoint"]),
            Cmd = Strings(config?["Cmd"]),
            WorkingDir = config?["WorkingDir"]?.GetValue<string>() ?? "",
            User = config?["User"]?.GetValue<string>() ?? "",
            ManifestDigest = manifestDigest,
        };
    }
}

/// <summary>An image that cannot be read: malformed JSON, a missing blob, a digest mismatch, an unsupported format.</summary>
public sealed class ImageException : Exception
{
    public ImageException(string message) : base(message)
    {
    }

    public ImageException(string message, Exception inner) : base(message, inner)
    {
    }
}

using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace KataSharp.Runtime.Images;

/// <summary>A content descriptor: media type, digest and size, as index.json and manifests list them.</summary>
internal sealed record OciDescriptor(string MediaType, string Digest, long Size, string? Os, string? Architecture)
{
    public static OciDescriptor Parse(JsonNode? node, string where)
    {
        if (node is not JsonObject o || o["digest"]?.GetValue<string>() is not { } digest)
        {
            throw new ImageException($"{where}: descriptor without a digest");
        }

        return new OciDescriptor(
            o["mediaType"]?.GetValue<string>() ?? "",
            digest,
            o["size"]?.GetValue<long>() ?? -1,
            o["platform"]?["os"]?.GetValue<string>(),
            o["platform"]?["architecture"]?.GetValue<string>());
    }
}

/// <summary>
/// An OCI image layout directory (oci-layout, index.json, blobs/&lt;alg&gt;/&lt;hex&gt;). Every blob is
/// checked against its digest before any of it is used, so a corrupt or tampered image is refused.
/// </summary>
internal sealed class OciLayout
{
    private const long MaxJsonBlob = 16 * 1024 * 1024;

    public OciLayout(string directory) => Directory = directory;

    public string Directory { get; }

    /// <summary>Resolves index.json (and a nested index) to the linux/amd64 manifest and returns its descriptor and JSON.</summary>
    public (OciDescriptor Descriptor, JsonObject Manifest) ResolveManifest(string os = "linux", string architecture = "amd64")
    {
        var indexPath = Path.Combine(Directory, "index.json");
        if (!File.Exists(indexPath))
        {
            throw new ImageException($"{Directory} is not an OCI image layout (no index.json)");
        }

        if (new FileInfo(indexPath).Length > MaxJsonBlob)
        {
            throw new ImageException($"{indexPath} is too large for an image index");
        }

        var index = ParseObject(File.ReadAllBytes(indexPath), "index.json");
        for (var depth = 0; depth < 4; depth++)
        {
            var descriptor = PickManifest(index, os, architecture);
            var json = ReadJsonBlob(descriptor);
            if (OciMediaTypes.IsIndex(descriptor.MediaType) || (descriptor.MediaType.Length == 0 && json["manifests"] is JsonArray))
            {
                index = json;
                continue;
            }

            return (descriptor, json);
        }

        throw new ImageException("image indexes nest too deeply");
    }

    private static OciDescriptor PickManifest(JsonObject index, string os, string architecture)
    {
        if (index["manifests"] is not JsonArray { Count: > 0 } manifests)
        {
            throw new ImageException("the image index lists no manifests");
        }

        var descriptors = manifests.Select((m, i) => OciDescriptor.Parse(m, $"manifests[{i}]")).ToList();
        return descriptors.FirstOrDefault(d => d.Os == os && d.Architecture == architecture)
            ?? descriptors.FirstOrDefault(d => d.Os is null && d.Architecture is null)
            ?? throw new ImageException($"the image has no {os}/{architecture} manifest (it has {string.Join(", ", descriptors.Select(d => $"{d.Os}/{d.Architecture}"))})");
    }

    public JsonObject ReadJsonBlob(OciDescriptor descriptor)
    {
        if (descriptor.Size > MaxJsonBlob)
        {
            throw new ImageException($"blob {descriptor.Digest} is too large for JSON ({descriptor.Size} bytes)");
        }

        using var stream = OpenBlob(descriptor);
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return ParseObject(buffer.ToArray(), descriptor.Digest);
    }

    /// <summary>
    /// Opens a blob whose content has already been checked against its digest and size, positioned at its start:
    /// nothing of a tampered blob is ever parsed or applied. The check and the read share one open file, so a
    /// blob renamed or replaced in between is not read; rewriting it in place is the layout owner's own doing.
    /// </summary>
    public Stream OpenBlob(OciDescriptor descriptor)
    {
        var separator = descriptor.Digest.IndexOf(':', StringComparison.Ordinal);
        var algorithm = separator > 0 ? descriptor.Digest[..separator] : "";
        var hex = separator > 0 ? descriptor.Digest[(separator + 1)..] : "";
        if (algorithm != "sha256" || hex.Length != 64 || !hex.All(char.IsAsciiHexDigitLower))
        {
            throw new ImageException($"unsupported or malformed digest '{descriptor.Digest}'");
        }

        if (descriptor.Size < 0)
        {
            throw new ImageException($"descriptor of blob {descriptor.Digest} has no size");
        }

        var path = Path.Combine(Directory, "blobs", algorithm, hex);
        if (!File.Exists(path))
        {
            throw new ImageException($"blob {descriptor.Digest} is missing from {Directory}");
        }

        var stream = File.OpenRead(path);
        try
        {
            Verify(stream, descriptor, hex);
            stream.Position = 0;
            return stream;
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    private static void Verify(FileStream stream, OciDescriptor descriptor, string expectedHex)
    {
        if (stream.Length != descriptor.Size)
        {
            throw new ImageException($"blob {descriptor.Digest} does not match its descriptor ({stream.Length} bytes, the descriptor says {descriptor.Size})");
        }

        var actual = Convert.ToHexStringLower(SHA256.HashData(stream));
        if (actual != expectedHex)
        {
            throw new ImageException($"blob {descriptor.Digest} does not match its descriptor (its sha256 is {actual})");
        }
    }

    private static JsonObject ParseObject(byte[] bytes, string what)
    {
        try
        {
            return JsonNode.Parse(bytes) as JsonObject ?? throw new ImageException($"{what} is not a JSON object");
        }
        catch (JsonException e)
        {
            throw new ImageException($"{what} is not valid JSON: {e.Message}", e);
        }
    }
}

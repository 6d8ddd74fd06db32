using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace KataSharp.Runtime.Images;

/// <summary>A content descriptor: media type, digest and size, as index.json and manifests list them.</summary>
internal sealed record OciDescriptor(string MediaType, string Digest, long Size, string? Os, string? Architecture, string? Variant = null)
{
    public string Platform => Variant is null ? $"{Os}/{Architecture}" : $"{Os}/{Architecture}/{Variant}";

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
            o["platform"]?["architecture"]?.GetValue<string>(),
            o["platform"]?["variant"]?.GetValue<string>());
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

    /// <summary>Resolves index.json (and a nested index) to the platform's manifest (linux/amd64 by default) and returns its descriptor and JSON.</summary>
    public (OciDescriptor Descriptor, JsonObject Manifest) ResolveManifest(ImagePlatform? platform = null)
    {
        platform ??= ImagePlatform.Default;
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
            var descriptor = PickManifest(index, platform);
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

    /// <summary>The index's manifest for <paramref name="platform"/>.</summary>
    internal static OciDescriptor PickManifest(JsonObject index, ImagePlatform platform)
    {
        if (index["manifests"] is not JsonArray { Count: > 0 } manifests)
        {
            throw new ImageException("the image index lists no manifests");
        }

        return platform.Select(manifests.Select((m, i) => OciDescriptor.Parse(m, $"manifests[{i}]")).ToList());
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
        var hex = ContentDigest.Parse(descriptor.Digest).Hex;

        if (descriptor.Size < 0)
        {
            throw new ImageException($"descriptor of blob {descriptor.Digest} has no size");
        }

        var path = Path.Combine(Directory, "blobs", "sha256", hex);
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

    internal static JsonObject ParseObject(byte[] bytes, string what)
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

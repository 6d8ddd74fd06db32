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
/// checked against its digest as it is read, so a corrupt or tampered image is refused.
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

    /// <summary>Opens a blob for reading; the stream throws at its end if the content does not match the digest or size.</summary>
    public Stream OpenBlob(OciDescriptor descriptor)
    {
        var separator = descriptor.Digest.IndexOf(':', StringComparison.Ordinal);
        var algorithm = separator > 0 ? descriptor.Digest[..separator] : "";
        var hex = separator > 0 ? descriptor.Digest[(separator + 1)..] : "";
        if (algorithm != "sha256" || hex.Length != 64 || !hex.All(char.IsAsciiHexDigitLower))
        {
            throw new ImageException($"unsupported or malformed digest '{descriptor.Digest}'");
        }

        var path = Path.Combine(Directory, "blobs", algorithm, hex);
        if (!File.Exists(path))
        {
            throw new ImageException($"blob {descriptor.Digest} is missing from {Directory}");
        }

        return new DigestVerifyingStream(File.OpenRead(path), hex, descriptor.Size, descriptor.Digest);
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

/// <summary>Hashes what is read through it and, at end of stream, fails unless the SHA-256 and size match.</summary>
internal sealed class DigestVerifyingStream : Stream
{
    private readonly Stream _inner;
    private readonly string _expectedHex;
    private readonly long _expectedSize;
    private readonly string _digest;
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private long _read;
    private bool _verified;

    public DigestVerifyingStream(Stream inner, string expectedHex, long expectedSize, string digest)
    {
        _inner = inner;
        _expectedHex = expectedHex;
        _expectedSize = expectedSize;
        _digest = digest;
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => _read; set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var n = _inner.Read(buffer);
        if (n > 0)
        {
            _hash.AppendData(buffer[..n]);
            _read += n;
        }
        else if (buffer.Length > 0)
        {
            Verify();
        }

        return n;
    }

    /// <summary>Reads whatever is left (readers such as tar stop at the end-of-archive marker) and verifies.</summary>
    public void DrainAndVerify()
    {
        var buffer = new byte[81920];
        while (Read(buffer) > 0)
        {
        }
    }

    private void Verify()
    {
        if (_verified)
        {
            return;
        }

        _verified = true;
        var actual = Convert.ToHexStringLower(_hash.GetHashAndReset());
        if (actual != _expectedHex || (_expectedSize >= 0 && _read != _expectedSize))
        {
            throw new ImageException($"blob {_digest} does not match its descriptor (sha256 {actual}, {_read} bytes)");
        }
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _inner.Dispose();
            _hash.Dispose();
        }

        base.Dispose(disposing);
    }
}

using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace KataSharp.Runtime.Images;

/// <summary>One entry of an image layer: a directory, a regular file (from bytes or a host file) or a symlink.</summary>
public sealed record LayerEntry(string Path, TarEntryType Type, UnixFileMode Mode, byte[]? Content = null, string? SourceFile = null, string? LinkTarget = null)
{
    public static LayerEntry Dir(string path, UnixFileMode mode = (UnixFileMode)0b111_101_101) => new(path, TarEntryType.Directory, mode);

    public static LayerEntry Text(string path, string content, UnixFileMode mode = (UnixFileMode)0b110_100_100) =>
        new(path, TarEntryType.RegularFile, mode, Encoding.UTF8.GetBytes(content));

    public static LayerEntry Copy(string path, string sourceFile, UnixFileMode mode) => new(path, TarEntryType.RegularFile, mode, SourceFile: sourceFile);

    public static LayerEntry Symlink(string path, string target) => new(path, TarEntryType.SymbolicLink, (UnixFileMode)0b111_111_111, LinkTarget: target);
}

/// <summary>What goes into the image config's <c>config</c> object.</summary>
public sealed record ImageConfigSpec(IReadOnlyList<string> Env, IReadOnlyList<string> Cmd, IReadOnlyList<string>? Entrypoint = null, string WorkingDir = "");

/// <summary>
/// Writes a single-layer, linux/amd64 OCI archive (a tar of an OCI image layout) deterministically:
/// entries sorted, owners root, every timestamp the given one. The same inputs give the same bytes,
/// so the digests are stable. containerd (<c>ctr images import</c>) takes the image name from the
/// <c>io.containerd.image.name</c> annotation, OCI tools from <c>org.opencontainers.image.ref.name</c>.
/// </summary>
public static class OciArchiveWriter
{
    public static void Write(string outputPath, IReadOnlyList<LayerEntry> entries, ImageConfigSpec imageConfig, string reference, DateTimeOffset timestamp)
    {
        var (layerTar, layerGzip) = BuildLayer(entries, timestamp);
        var created = timestamp.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);

        var config = new JsonObject
        {
            ["created"] = created,
            ["architecture"] = "amd64",
            ["os"] = "linux",
            ["config"] = ConfigObject(imageConfig),
            ["rootfs"] = new JsonObject { ["type"] = "layers", ["diff_ids"] = new JsonArray(Digest(layerTar)) },
            ["history"] = new JsonArray(new JsonObject { ["created"] = created, ["created_by"] = "katasharp image build" }),
        };
        var configBytes = Json(config);

        var manifest = new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = OciMediaTypes.Manifest,
            ["config"] = Descriptor(OciMediaTypes.Config, configBytes),
            ["layers"] = new JsonArray(Descriptor(OciMediaTypes.LayerGzip, layerGzip)),
        };
        var manifestBytes = Json(manifest);

        var manifestDescriptor = Descriptor(OciMediaTypes.Manifest, manifestBytes);
        manifestDescriptor["platform"] = new JsonObject { ["architecture"] = "amd64", ["os"] = "linux" };
        manifestDescriptor["annotations"] = new JsonObject
        {
            ["io.containerd.image.name"] = reference,
            ["org.opencontainers.image.ref.name"] = reference,
        };
        var index = new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = OciMediaTypes.Index,
            ["manifests"] = new JsonArray(manifestDescriptor),
        };

        var files = new SortedDictionary<string, byte[]>(StringComparer.Ordinal)
        {
            ["oci-layout"] = Encoding.UTF8.GetBytes("{\"imageLayoutVersion\":\"1.0.0\"}"),
            ["index.json"] = Json(index),
        };
        foreach (var blob in new[] { layerGzip, configBytes, manifestBytes })
        {
            files[$"blobs/sha256/{Hex(blob)}"] = blob;
        }

        var directory = Path.GetDirectoryName(Path.GetFullPath(outputPath))!;
        Directory.CreateDirectory(directory);
        var temporary = outputPath + ".tmp";
        using (var output = File.Create(temporary))
        using (var writer = new TarWriter(output, TarEntryFormat.Ustar, leaveOpen: false))
        {
            var directories = new[] { "blobs/", "blobs/sha256/" };
            foreach (var dir in directories)
            {
                writer.WriteEntry(Entry(TarEntryType.Directory, dir, (UnixFileMode)0b111_101_101, timestamp));
            }

            foreach (var (name, content) in files)
            {
                var entry = Entry(TarEntryType.RegularFile, name, (UnixFileMode)0b110_100_100, timestamp);
                entry.DataStream = new MemoryStream(content);
                writer.WriteEntry(entry);
            }
        }

        File.Move(temporary, outputPath, overwrite: true);
    }

    private static (byte[] Tar, byte[] Gzip) BuildLayer(IReadOnlyList<LayerEntry> entries, DateTimeOffset timestamp)
    {
        using var tar = new MemoryStream();
        using (var writer = new TarWriter(tar, TarEntryFormat.Ustar, leaveOpen: true))
        {
            foreach (var item in entries.OrderBy(e => e.Path, StringComparer.Ordinal))
            {
                var name = item.Type == TarEntryType.Directory ? item.Path.TrimEnd('/') + "/" : item.Path;
                var entry = Entry(item.Type, name, item.Mode, timestamp);
                if (item.Type == TarEntryType.SymbolicLink)
                {
                    entry.LinkName = item.LinkTarget ?? throw new ArgumentException($"symlink {item.Path} has no target");
                }
                else if (item.Type == TarEntryType.RegularFile)
                {
                    entry.DataStream = item.SourceFile is { } source ? new MemoryStream(File.ReadAllBytes(source)) : new MemoryStream(item.Content ?? []);
                }

                writer.WriteEntry(entry);
            }
        }

        var tarBytes = tar.ToArray();
        using var gzip = new MemoryStream();
        using (var compressor = new GZipStream(gzip, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            compressor.Write(tarBytes);
        }

        return (tarBytes, gzip.ToArray());
    }

    private static UstarTarEntry Entry(TarEntryType type, string name, UnixFileMode mode, DateTimeOffset timestamp) => new(type, name)
    {
        Mode = mode,
        Uid = 0,
        Gid = 0,
        UserName = "root",
        GroupName = "root",
        ModificationTime = timestamp,
    };

    private static JsonObject ConfigObject(ImageConfigSpec spec)
    {
        var config = new JsonObject
        {
            ["Env"] = new JsonArray(spec.Env.Select(e => (JsonNode?)e).ToArray()),
            ["Cmd"] = new JsonArray(spec.Cmd.Select(e => (JsonNode?)e).ToArray()),
        };
        if (spec.Entrypoint is { Count: > 0 } entrypoint)
        {
            config["Entrypoint"] = new JsonArray(entrypoint.Select(e => (JsonNode?)e).ToArray());
        }

        if (spec.WorkingDir.Length > 0)
        {
            config["WorkingDir"] = spec.WorkingDir;
        }

        return config;
    }

    private static JsonObject Descriptor(string mediaType, byte[] content) => new()
    {
        ["mediaType"] = mediaType,
        ["digest"] = Digest(content),
        ["size"] = content.LongLength,
    };

    /// <summary>Compact JSON without escaping '+' in media types (the default encoder writes \u002B; valid, but not what other tools write).</summary>
    private static byte[] Json(JsonObject node)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new System.Text.Json.Utf8JsonWriter(buffer, new System.Text.Json.JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            node.WriteTo(writer);
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static string Hex(byte[] content) => Convert.ToHexStringLower(SHA256.HashData(content));

    private static string Digest(byte[] content) => "sha256:" + Hex(content);
}

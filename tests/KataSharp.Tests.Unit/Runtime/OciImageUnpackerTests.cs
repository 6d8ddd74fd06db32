using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using KataSharp.Runtime.Images;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace KataSharp.Tests.Unit.Runtime;

/// <summary>Builds tiny OCI layouts by hand, so the unpacker is tested against the format, not against our own writer.</summary>
internal sealed class LayoutBuilder
{
    private readonly string _dir;
    private readonly List<JsonObject> _layers = [];

    public LayoutBuilder(string dir)
    {
        _dir = dir;
        Directory.CreateDirectory(Path.Combine(dir, "blobs", "sha256"));
        System.IO.File.WriteAllText(Path.Combine(dir, "oci-layout"), """{"imageLayoutVersion":"1.0.0"}""");
    }

    public static byte[] Tar(Action<TarWriter> write)
    {
        using var stream = new MemoryStream();
        using (var writer = new TarWriter(stream, TarEntryFormat.Pax, leaveOpen: true))
        {
            write(writer);
        }

        return stream.ToArray();
    }

    public static void File(TarWriter writer, string name, string content, int mode = 0b110_100_100)
    {
        var entry = new PaxTarEntry(TarEntryType.RegularFile, name) { Mode = (UnixFileMode)mode, DataStream = new MemoryStream(Encoding.UTF8.GetBytes(content)) };
        writer.WriteEntry(entry);
    }

    public static void Dir(TarWriter writer, string name) =>
        writer.WriteEntry(new PaxTarEntry(TarEntryType.Directory, name) { Mode = (UnixFileMode)0b111_101_101 });

    public static void Link(TarWriter writer, string name, string target, TarEntryType type = TarEntryType.SymbolicLink) =>
        writer.WriteEntry(new PaxTarEntry(type, name) { LinkName = target });

    public string Blob(byte[] content)
    {
        var hex = Convert.ToHexStringLower(SHA256.HashData(content));
        System.IO.File.WriteAllBytes(Path.Combine(_dir, "blobs", "sha256", hex), content);
        return "sha256:" + hex;
    }

    public LayoutBuilder Layer(byte[] tar, bool gzip)
    {
        var content = tar;
        if (gzip)
        {
            using var compressed = new MemoryStream();
            using (var z = new GZipStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
            {
                z.Write(tar);
            }

            content = compressed.ToArray();
        }

        return Blob(content, gzip ? "application/vnd.oci.image.layer.v1.tar+gzip" : "application/vnd.oci.image.layer.v1.tar");
    }

    /// <summary>Adds a layer blob as it is; with <paramref name="claimedDigest"/> the descriptor names another digest than the content's.</summary>
    public LayoutBuilder Blob(byte[] content, string mediaType, string? claimedDigest = null)
    {
        var digest = Blob(content);
        if (claimedDigest is not null)
        {
            System.IO.File.Move(Path.Combine(_dir, "blobs", "sha256", digest["sha256:".Length..]), Path.Combine(_dir, "blobs", "sha256", claimedDigest["sha256:".Length..]));
        }

        _layers.Add(new JsonObject { ["mediaType"] = mediaType, ["digest"] = claimedDigest ?? digest, ["size"] = content.Length });
        return this;
    }

    /// <summary>Writes config, manifest and index; with <paramref name="nested"/> the index points at a second index.</summary>
    public string Finish(string configJson, bool nested = false)
    {
        var config = Encoding.UTF8.GetBytes(configJson);
        var manifest = Encoding.UTF8.GetBytes(new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = "application/vnd.oci.image.manifest.v1+json",
            ["config"] = new JsonObject { ["mediaType"] = "application/vnd.oci.image.config.v1+json", ["digest"] = Blob(config), ["size"] = config.Length },
            ["layers"] = new JsonArray(_layers.Select(l => (JsonNode?)l.DeepClone()).ToArray()),
        }.ToJsonString());
        var manifestDigest = Blob(manifest);
        var armManifest = new JsonObject { ["mediaType"] = "application/vnd.oci.image.manifest.v1+json", ["digest"] = Blob(Encoding.UTF8.GetBytes("{}")), ["size"] = 2, ["platform"] = new JsonObject { ["architecture"] = "arm64", ["os"] = "linux" } };
        var amdManifest = new JsonObject { ["mediaType"] = "application/vnd.oci.image.manifest.v1+json", ["digest"] = manifestDigest, ["size"] = manifest.Length, ["platform"] = new JsonObject { ["architecture"] = "amd64", ["os"] = "linux" } };
        var index = new JsonObject { ["schemaVersion"] = 2, ["manifests"] = new JsonArray(armManifest, amdManifest) };
        if (nested)
        {
            var inner = Encoding.UTF8.GetBytes(index.ToJsonString());
            index = new JsonObject { ["schemaVersion"] = 2, ["manifests"] = new JsonArray(new JsonObject { ["mediaType"] = "application/vnd.oci.image.index.v1+json", ["digest"] = Blob(inner), ["size"] = inner.Length }) };
        }

        System.IO.File.WriteAllText(Path.Combine(_dir, "index.json"), index.ToJsonString());
        return _dir;
    }
}

public sealed class OciImageUnpackerTests : IDisposable
{
    private const string Config = """{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin","A=1"],"Cmd":["sh","-c","echo hi"],"Entrypoint":["/bin/env"],"WorkingDir":"/work","User":"1000:1000"},"rootfs":{"type":"layers","diff_ids":[]}}""";
    private readonly string _dir = Directory.CreateTempSubdirectory("ks-image-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Rootfs => Path.Combine(_dir, "rootfs");

    private static UnixFileMode Mode(string path) => OperatingSystem.IsWindows() ? default : File.GetUnixFileMode(path);

    private string TwoLayerImage(bool nested = false)
    {
        var lower = LayoutBuilder.Tar(w =>
        {
            LayoutBuilder.Dir(w, "etc/");
            LayoutBuilder.File(w, "etc/passwd", "root:x:0:0::/root:/bin/sh\n");
            LayoutBuilder.File(w, "etc/deleted", "gone soon");
            LayoutBuilder.Dir(w, "opaque/");
            LayoutBuilder.File(w, "opaque/old", "from the lower layer");
            LayoutBuilder.Dir(w, "bin/");
            LayoutBuilder.File(w, "bin/tool", "#!/bin/sh\n", 0b111_101_101);
            LayoutBuilder.Link(w, "bin/alias", "tool");
            LayoutBuilder.Link(w, "bin/hard", "bin/tool", TarEntryType.HardLink);
        });
        var upper = LayoutBuilder.Tar(w =>
        {
            LayoutBuilder.File(w, "etc/.wh.deleted", "");
            LayoutBuilder.File(w, "opaque/.wh..wh..opq", "");
            LayoutBuilder.File(w, "opaque/new", "from the upper layer");
            LayoutBuilder.File(w, "etc/passwd", "root:x:0:0::/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n");
        });
        return new LayoutBuilder(Path.Combine(_dir, "layout")).Layer(lower, gzip: true).Layer(upper, gzip: false).Finish(Config, nested);
    }

    [Fact]
    public async Task Applies_layers_in_order_with_whiteouts()
    {
        var config = await new OciImageUnpacker(NullLogger.Instance).UnpackAsync(TwoLayerImage(), Rootfs, CancellationToken.None);

        Assert.Contains("user:x:1000", File.ReadAllText(Path.Combine(Rootfs, "etc/passwd")), StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(Rootfs, "etc/deleted")));
        Assert.False(File.Exists(Path.Combine(Rootfs, "etc/.wh.deleted")));
        Assert.False(File.Exists(Path.Combine(Rootfs, "opaque/old")));
        Assert.Equal("from the upper layer", File.ReadAllText(Path.Combine(Rootfs, "opaque/new")));
        Assert.False(File.Exists(Path.Combine(Rootfs, "opaque/.wh..wh..opq")));
        Assert.Equal("tool", new FileInfo(Path.Combine(Rootfs, "bin/alias")).LinkTarget);
        Assert.Equal("#!/bin/sh\n", File.ReadAllText(Path.Combine(Rootfs, "bin/hard")));
        Assert.True(Mode(Path.Combine(Rootfs, "bin/tool")).HasFlag(UnixFileMode.UserExecute));

        Assert.Equal(["PATH=/bin", "A=1"], config.Env);
        Assert.Equal(["sh", "-c", "echo hi"], config.Cmd);
        Assert.Equal(["/bin/env"], config.Entrypoint);
        Assert.Equal("/work", config.WorkingDir);
        Assert.Equal("1000:1000", config.User);
        Assert.StartsWith("sha256:", config.ManifestDigest, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Follows_a_nested_index_to_the_amd64_manifest()
    {
        var config = await new OciImageUnpacker(NullLogger.Instance).UnpackAsync(TwoLayerImage(nested: true), Rootfs, CancellationToken.None);
        Assert.Equal("/work", config.WorkingDir);
        Assert.True(File.Exists(Path.Combine(Rootfs, "opaque/new")));
    }

    [Fact]
    public async Task Unpacks_an_oci_archive()
    {
        var layout = TwoLayerImage();
        var archive = Path.Combine(_dir, "image.oci.tar");
        await TarFile.CreateFromDirectoryAsync(layout, archive, includeBaseDirectory: false);
        var config = await new OciImageUnpacker(NullLogger.Instance).UnpackAsync(archive, Rootfs, CancellationToken.None);
        Assert.Equal(["sh", "-c", "echo hi"], config.Cmd);
        Assert.True(File.Exists(Path.Combine(Rootfs, "etc/passwd")));
        Assert.Empty(Directory.EnumerateDirectories(_dir, ".oci-*")); // the scratch copy is gone
    }

    [Fact]
    public async Task A_corrupted_blob_is_refused_and_the_rootfs_removed()
    {
        var layout = TwoLayerImage();
        var blobs = Directory.GetFiles(Path.Combine(layout, "blobs", "sha256"));
        var biggest = blobs.OrderByDescending(f => new FileInfo(f).Length).First();
        var bytes = File.ReadAllBytes(biggest);
        bytes[^1] ^= 0xff;
        File.WriteAllBytes(biggest, bytes);
        await Assert.ThrowsAsync<ImageException>(() => new OciImageUnpacker(NullLogger.Instance).UnpackAsync(layout, Rootfs, CancellationToken.None));
        Assert.False(Directory.Exists(Rootfs));
    }

    [Fact]
    public async Task Paths_climbing_out_of_the_rootfs_are_refused()
    {
        var evil = LayoutBuilder.Tar(w => LayoutBuilder.File(w, "../escaped", "x"));
        var layout = new LayoutBuilder(Path.Combine(_dir, "evil")).Layer(evil, gzip: false).Finish(Config);
        await Assert.ThrowsAsync<ImageException>(() => new OciImageUnpacker(NullLogger.Instance).UnpackAsync(layout, Rootfs, CancellationToken.None));
        Assert.False(File.Exists(Path.Combine(_dir, "escaped")));
    }

    [Fact]
    public async Task Symlinks_cannot_redirect_writes_outside_the_rootfs()
    {
        var outside = Path.Combine(_dir, "outside");
        Directory.CreateDirectory(outside);
        var evil = LayoutBuilder.Tar(w =>
        {
            LayoutBuilder.Link(w, "link", outside);        // absolute: means <rootfs>/<outside>
            LayoutBuilder.File(w, "link/planted", "x");
            LayoutBuilder.Link(w, "up", "../../../../..");  // climbs, but stops at the root
            LayoutBuilder.File(w, "up/planted2", "y");
        });
        var layout = new LayoutBuilder(Path.Combine(_dir, "evil2")).Layer(evil, gzip: false).Finish(Config);
        await new OciImageUnpacker(NullLogger.Instance).UnpackAsync(layout, Rootfs, CancellationToken.None);
        Assert.Empty(Directory.EnumerateFileSystemEntries(outside));
        Assert.True(File.Exists(Path.Combine(Rootfs, outside.TrimStart('/'), "planted")));
        Assert.True(File.Exists(Path.Combine(Rootfs, "planted2")));
    }

    [Fact]
    public async Task Missing_image_is_a_clear_error()
    {
        var e = await Assert.ThrowsAsync<ImageException>(() => new OciImageUnpacker(NullLogger.Instance).UnpackAsync(Path.Combine(_dir, "nope"), Rootfs, CancellationToken.None));
        Assert.Contains("does not exist", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_busybox_archive_writer_is_deterministic_and_unpacks()
    {
        var fakeBusybox = Path.Combine(_dir, "busybox");
        File.WriteAllText(fakeBusybox, "not really busybox");
        var entries = BusyboxImage.Entries(fakeBusybox, ["bin/sh", "usr/bin/env", "linuxrc", "bin/sh"]);
        var first = Path.Combine(_dir, "a.oci.tar");
        var second = Path.Combine(_dir, "b.oci.tar");
        var spec = new ImageConfigSpec([BusyboxImage.DefaultPath], ["sh"]);
        OciArchiveWriter.Write(first, entries, spec, BusyboxImage.DefaultReference, DateTimeOffset.UnixEpoch);
        OciArchiveWriter.Write(second, entries, spec, BusyboxImage.DefaultReference, DateTimeOffset.UnixEpoch);
        Assert.Equal(File.ReadAllBytes(first), File.ReadAllBytes(second));

        var config = await new OciImageUnpacker(NullLogger.Instance).UnpackAsync(first, Rootfs, CancellationToken.None);
        Assert.Equal(["sh"], config.Cmd);
        Assert.Equal([BusyboxImage.DefaultPath], config.Env);
        Assert.Equal("/bin/busybox", new FileInfo(Path.Combine(Rootfs, "bin/sh")).LinkTarget);
        Assert.Equal("/bin/busybox", new FileInfo(Path.Combine(Rootfs, "usr/bin/env")).LinkTarget);
        Assert.False(Path.Exists(Path.Combine(Rootfs, "linuxrc")));
        Assert.Contains("root:x:0:0", File.ReadAllText(Path.Combine(Rootfs, "etc/passwd")), StringComparison.Ordinal);
        Assert.True(Mode(Path.Combine(Rootfs, "tmp")).HasFlag(UnixFileMode.StickyBit));

        // The archive is what containerd imports: an index naming the image, and an oci-layout file.
        using var tar = new TarReader(File.OpenRead(first));
        var names = new List<string>();
        while (tar.GetNextEntry() is { } entry)
        {
            names.Add(entry.Name);
            if (entry.Name == "index.json")
            {
                var index = JsonNode.Parse(entry.DataStream!)!;
                Assert.Equal(BusyboxImage.DefaultReference, index["manifests"]![0]!["annotations"]!["io.containerd.image.name"]!.GetValue<string>());
                Assert.Equal(BusyboxImage.DefaultReference, index["manifests"]![0]!["annotations"]!["org.opencontainers.image.ref.name"]!.GetValue<string>());
            }
        }

        Assert.Contains("oci-layout", names);
        Assert.Equal(names.Order(StringComparer.Ordinal), names);
    }

    [Fact]
    public void Image_user_resolves_names_and_numbers()
    {
        var root = Path.Combine(_dir, "users");
        Directory.CreateDirectory(Path.Combine(root, "etc"));
        File.WriteAllText(Path.Combine(root, "etc", "passwd"), "root:x:0:0::/root:/bin/sh\nalice:x:1000:1001::/home/alice:/bin/sh\n");
        File.WriteAllText(Path.Combine(root, "etc", "group"), "root:x:0:\nalice:x:1001:\nwheel:x:10:alice,bob\n");
        Assert.Equal(ProcessUser.Root, ImageUser.Resolve(root, ""));
        var alice = ImageUser.Resolve(root, "alice");
        Assert.Equal((1000u, 1001u), (alice.Uid, alice.Gid));
        Assert.Equal([10u], alice.AdditionalGids);
        Assert.Equal((1000u, 10u), (ImageUser.Resolve(root, "1000:wheel").Uid, ImageUser.Resolve(root, "1000:wheel").Gid));
        Assert.Equal((42u, 43u), (ImageUser.Resolve(root, "42:43").Uid, ImageUser.Resolve(root, "42:43").Gid));
        Assert.Throws<ImageException>(() => ImageUser.Resolve(root, "mallory"));
    }
}

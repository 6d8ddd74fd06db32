using System.Formats.Tar;
using KataSharp.Runtime.Images;
using KataSharp.Runtime.Images.Cache;
using KataSharp.Runtime.Configuration;
using KataSharp.Runtime.Images.Registry;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace KataSharp.Tests.Unit.Runtime.Registry;

public sealed class ImagePullerTests : IDisposable
{
    private readonly string _state = Directory.CreateTempSubdirectory("ks-image-cache-").FullName;

    public void Dispose() => Directory.Delete(_state, recursive: true);

    private ImageCachePaths Paths => ImageCachePaths.For(new ImagesConfig { CacheDir = Path.Combine(_state, "images") });

    private ImagePuller Puller(FakeRegistry registry, DockerCredentials? credentials = null) =>
        new(Paths, () => registry.Client(credentials), NullLogger.Instance);

    private static byte[] LayerTar(string content = "hello") => LayoutBuilder.Tar(w =>
    {
        LayoutBuilder.Dir(w, "etc/");
        LayoutBuilder.File(w, "etc/greeting", content);
        LayoutBuilder.File(w, "etc/.wh.gone", "");
    });

    [Fact]
    public async Task Pulls_through_the_bearer_token_flow_and_a_warm_pull_fetches_nothing()
    {
        var registry = new FakeRegistry { RequiredToken = "tok", TokenCredential = new RegistryCredential("u", "p") };
        var manifest = registry.AddImage("v1", LayerTar());
        var credentials = Credentials(FakeRegistry.Host, "u", "p");

        var cold = Puller(registry, credentials);
        var image = await cold.PullAsync(registry.Reference("v1"), ImagePlatform.Default, null, CancellationToken.None);
        Assert.Equal(manifest, image.Config.ManifestDigest);
        Assert.Equal(["sh"], image.Config.Cmd);
        Assert.Equal(2, cold.Blobs.Downloaded - 1); // the manifest is stored too: manifest, config, layer
        Assert.Equal(1, cold.Layers.Unpacked);
        var layer = Assert.Single(image.Layers);
        Assert.Equal("hello", File.ReadAllText(Path.Combine(layer, "etc", "greeting")));
        // The whiteout is overlayfs's own: a 0:0 character device, for the overlay to hide the lower file.
        Assert.Equal(UnixFileMode.None, File.GetUnixFileMode(Path.Combine(layer, "etc", "gone")) & UnixFileMode.OtherExecute);
        Assert.True(new FileInfo(Path.Combine(layer, "etc", "gone")).Exists);

        var warm = Puller(registry, credentials);
        await warm.PullAsync(registry.Reference("v1"), ImagePlatform.Default, null, CancellationToken.None);
        Assert.Equal(0, warm.Blobs.Downloaded);
        Assert.Equal(0, warm.Layers.Unpacked);
        Assert.All(registry.BlobRequests.Values, n => Assert.Equal(1, n));

        var record = Assert.Single(ImageRecords.Load(Paths));
        Assert.Equal($"{FakeRegistry.Host}/test/app:v1", record.Reference);
        Assert.Equal(manifest, record.ManifestDigest);
    }

    [Fact]
    public async Task A_token_service_refusing_the_credential_is_a_clear_error()
    {
        var registry = new FakeRegistry { RequiredToken = "tok", TokenCredential = new RegistryCredential("u", "p") };
        registry.AddImage("v1", LayerTar());
        var error = await Assert.ThrowsAsync<ImageException>(() => Puller(registry).PullAsync(registry.Reference("v1"), ImagePlatform.Default, null, CancellationToken.None));
        Assert.Contains("refused an anonymous pull", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_blob_that_does_not_match_its_digest_is_refused_and_not_stored()
    {
        var registry = new FakeRegistry();
        registry.AddImage("v1", LayerTar());
        var layerDigest = registry.Blobs.Keys.Single(k => registry.Blobs[k].Length > 2 && registry.Blobs[k][0] == 0x1f);
        var tampered = (byte[])registry.Blobs[layerDigest].Clone();
        tampered[^5] ^= 0xff;
        registry.Blobs[layerDigest] = tampered;

        var error = await Assert.ThrowsAsync<ImageException>(() => Puller(registry).PullAsync(registry.Reference("v1"), ImagePlatform.Default, null, CancellationToken.None));
        Assert.Contains("does not match its digest", error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Paths.Blob(ContentDigest.Parse(layerDigest))));
        Assert.Empty(Directory.EnumerateFileSystemEntries(Paths.Temporary));
        Assert.Empty(Directory.EnumerateFileSystemEntries(Paths.Layers));
    }

    [Fact]
    public async Task A_manifest_asked_for_by_digest_must_have_that_digest()
    {
        var registry = new FakeRegistry();
        var digest = registry.AddImage("v1", LayerTar());
        var other = registry.AddImage("v2", LayerTar("other"));
        registry.Manifests[digest] = registry.Manifests[other];
        var reference = ImageReference.Parse($"{FakeRegistry.Host}/test/app@{digest}");
        var error = await Assert.ThrowsAsync<ImageException>(() => Puller(registry).PullAsync(reference, ImagePlatform.Default, null, CancellationToken.None));
        Assert.Contains("refused", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Concurrent_pulls_of_one_image_share_one_download_and_one_unpack()
    {
        var registry = new FakeRegistry(holdBlobs: true);
        registry.AddImage("v1", LayerTar());
        var first = Puller(registry);
        var second = Puller(registry);
        var pulls = new[] { first, second }.Select(p => p.PullAsync(registry.Reference("v1"), ImagePlatform.Default, null, CancellationToken.None)).ToList();

        // Both are under way (one holds the blob's lock, the other waits on it) before any blob is served.
        await WaitUntilAsync(() => registry.BlobRequests.Count > 0);
        registry.ServeBlobs.SetResult();
        var images = await Task.WhenAll(pulls);

        Assert.Equal(images[0].Layers, images[1].Layers);
        Assert.All(registry.BlobRequests.Values, n => Assert.Equal(1, n));
        Assert.Equal(1, first.Layers.Unpacked + second.Layers.Unpacked);
    }

    [Fact]
    public async Task A_layer_whose_content_is_not_its_diff_id_is_refused()
    {
        var registry = new FakeRegistry();
        var tar = LayerTar();
        registry.AddImage("v1", tar);
        var configDigest = registry.Blobs.Keys.Single(k => registry.Blobs[k][0] == (byte)'{');
        var config = System.Text.Encoding.UTF8.GetString(registry.Blobs[configDigest]).Replace(ContentDigest.Of(tar).ToString(), ContentDigest.Of("x"u8).ToString(), StringComparison.Ordinal);
        // Rewrite config and manifest consistently, so only the diffID is wrong.
        registry.Blobs.Remove(configDigest);
        var newConfig = registry.AddBlob(System.Text.Encoding.UTF8.GetBytes(config));
        var manifest = System.Text.Encoding.UTF8.GetString(registry.Manifests["v1"].Content).Replace(configDigest, newConfig, StringComparison.Ordinal);
        registry.Manifests["v1"] = (OciMediaTypes.Manifest, System.Text.Encoding.UTF8.GetBytes(manifest));

        var error = await Assert.ThrowsAsync<ImageException>(() => Puller(registry).PullAsync(registry.Reference("v1"), ImagePlatform.Default, null, CancellationToken.None));
        Assert.Contains("diffID", error.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(Paths.Layers));
    }

    [Fact]
    public async Task A_layer_climbing_out_of_its_directory_is_refused()
    {
        var registry = new FakeRegistry();
        registry.AddImage("v1", LayoutBuilder.Tar(w => LayoutBuilder.File(w, "../escape", "x")));
        await Assert.ThrowsAsync<ImageException>(() => Puller(registry).PullAsync(registry.Reference("v1"), ImagePlatform.Default, null, CancellationToken.None));
        Assert.False(File.Exists(Path.Combine(Paths.Root, "tmp", "escape")));
        Assert.Empty(Directory.EnumerateFileSystemEntries(Paths.Layers));
    }

    [Fact]
    public async Task Prune_keeps_images_and_mounted_layers_and_all_removes_the_rest()
    {
        var registry = new FakeRegistry();
        registry.AddImage("v1", LayerTar("one"));
        registry.AddImage("v2", LayerTar("two"));
        var puller = Puller(registry);
        var inUse = await puller.PullAsync(registry.Reference("v1"), ImagePlatform.Default, null, CancellationToken.None);
        var idle = await puller.PullAsync(registry.Reference("v2"), ImagePlatform.Default, null, CancellationToken.None);
        var orphan = Path.Combine(Paths.Blobs, new string('e', 64));
        File.WriteAllText(orphan, "left by nobody");
        File.WriteAllText(Path.Combine(Paths.Temporary, "blob-partial"), "interrupted");

        var mounted = new HashSet<string>(inUse.Layers, StringComparer.Ordinal);
        var pruner = new ImagePruner(Paths, () => mounted);
        var report = await pruner.PruneAsync(all: false, CancellationToken.None);
        Assert.Equal(new PruneReport(0, 1, 0, "left by nobody".Length), report);
        Assert.False(File.Exists(orphan));
        Assert.Empty(Directory.EnumerateFileSystemEntries(Paths.Temporary));
        Assert.Equal(2, ImageRecords.Load(Paths).Count);

        report = await pruner.PruneAsync(all: true, CancellationToken.None);
        Assert.Equal(1, report.Images);
        Assert.True(Directory.Exists(Assert.Single(inUse.Layers)));
        Assert.False(Directory.Exists(Assert.Single(idle.Layers)));
        Assert.Equal($"{FakeRegistry.Host}/test/app:v1", Assert.Single(ImageRecords.Load(Paths)).Reference);
    }

    [Fact]
    public async Task Pulls_a_local_layout_into_the_cache_once()
    {
        var layout = Path.Combine(_state, "layout");
        var tar = LayerTar();
        new LayoutBuilder(layout).Layer(tar, gzip: true)
            .Finish($$$"""{"config":{"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":["{{{ContentDigest.Of(tar)}}}"]}}""");
        var first = Puller(new FakeRegistry());
        var image = await first.PullAsync(ImageReference.Parse("oci:" + layout), ImagePlatform.Default, null, CancellationToken.None);
        Assert.Equal("hello", File.ReadAllText(Path.Combine(Assert.Single(image.Layers), "etc", "greeting")));
        var second = Puller(new FakeRegistry());
        await second.PullAsync(ImageReference.Parse("oci:" + layout), ImagePlatform.Default, null, CancellationToken.None);
        Assert.Equal(0, second.Layers.Unpacked);
    }

    private DockerCredentials Credentials(string host, string user, string password)
    {
        var path = Path.Combine(_state, "docker-config.json");
        File.WriteAllText(path, $$$$"""{"auths":{"{{{{host}}}}":{"username":"{{{{user}}}}","password":"{{{{password}}}}"}}}""");
        return DockerCredentials.Load(path);
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!condition())
        {
            await Task.Delay(10, timeout.Token);
        }
    }
}

using System.Text.Json.Nodes;
using KataSharp.Native.Files;
using KataSharp.Runtime.Images.Registry;
using Microsoft.Extensions.Logging;

namespace KataSharp.Runtime.Images.Cache;

/// <summary>An image in the cache, ready to mount.</summary>
public sealed record PulledImage(ImageConfig Config, IReadOnlyList<string> Layers, ImageRecord Record);

/// <summary>
/// Brings an image into the cache: from a registry (through <see cref="RegistryClient"/>) or a local OCI layout or
/// archive, resolving an index to the platform's manifest, and fetching and unpacking only what the cache does not
/// hold yet. Every manifest, config and layer is checked against its digest (and each layer against its diffID)
/// before it is used.
/// </summary>
public sealed partial class ImagePuller
{
    private const int MaxJsonBytes = 16 * 1024 * 1024;

    private readonly ImageCachePaths _paths;
    private readonly Func<RegistryClient> _registry;
    private readonly ILogger _logger;
    private readonly long _maxUnpackedBytes;

    /// <param name="registry">Makes the client for registry pulls; called only for them.</param>
    public ImagePuller(ImageCachePaths paths, Func<RegistryClient> registry, ILogger logger, long maxUnpackedBytes = OciImageUnpacker.DefaultMaxUnpackedBytes)
    {
        _paths = paths.Create();
        _registry = registry;
        _logger = logger;
        _maxUnpackedBytes = maxUnpackedBytes;
        Blobs = new BlobStore(paths);
        Layers = new LayerStore(paths, logger);
    }

    public BlobStore Blobs { get; }
    public LayerStore Layers { get; }

    /// <summary>
    /// Pulls the image and mounts it as a job's overlay rootfs at <paramref name="rootfs"/>, its upper and work
    /// directories under <paramref name="scratch"/>. Prune waits meanwhile, and leaves mounted layers alone after.
    /// </summary>
    public async Task<ImageConfig> MountAsync(ImageReference image, ImagePlatform platform, string rootfs, string scratch, IPullProgress? progress, CancellationToken cancellationToken)
    {
        using var lease = await ImageCachePaths.LockAsync(_paths.PruneLock, shared: true, cancellationToken).ConfigureAwait(false);
        var pulled = await PullAsync(image, platform, progress, cancellationToken).ConfigureAwait(false);
        OverlayRootfs.Mount(pulled.Layers, rootfs, scratch);
        return pulled.Config;
    }

    /// <exception cref="ImageException">The image cannot be fetched, or is malformed, hostile or not what its digests say.</exception>
    public async Task<PulledImage> PullAsync(ImageReference image, ImagePlatform platform, IPullProgress? progress, CancellationToken cancellationToken)
    {
        var downloaded = Blobs.Downloaded;
        var unpacked = Layers.Unpacked;
        PulledImage pulled;
        if (image.Transport == ImageTransport.Registry)
        {
            using var client = _registry();
            pulled = await PullAsync(image, platform, new RegistrySource(client, image, Blobs), progress, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            pulled = await PullLocalAsync(image, platform, progress, cancellationToken).ConfigureAwait(false);
        }

        LogPulled(_logger, image.ToString(), pulled.Record.ManifestDigest, Blobs.Downloaded - downloaded, Layers.Unpacked - unpacked);
        return pulled;
    }

    private async Task<PulledImage> PullLocalAsync(ImageReference image, ImagePlatform platform, IPullProgress? progress, CancellationToken cancellationToken)
    {
        if (image.Transport == ImageTransport.OciLayout)
        {
            return await PullAsync(image, platform, new LayoutSource(new OciLayout(image.Path)), progress, cancellationToken).ConfigureAwait(false);
        }

        var scratch = Path.Combine(_paths.Temporary, $"archive-{Guid.NewGuid():N}");
        try
        {
            await Task.Run(() => OciImageUnpacker.ExtractArchive(image.Path, scratch, new UnpackBudget(_maxUnpackedBytes)), cancellationToken).ConfigureAwait(false);
            return await PullAsync(image, platform, new LayoutSource(new OciLayout(scratch)), progress, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (Directory.Exists(scratch))
            {
                SafeRemove.RemoveAll(scratch);
            }
        }
    }

    private async Task<PulledImage> PullAsync(ImageReference image, ImagePlatform platform, IImageSource source, IPullProgress? progress, CancellationToken cancellationToken)
    {
        var blobs = new List<string>();
        var (manifestDigest, manifest) = await source.ResolveAsync(platform, blobs, cancellationToken).ConfigureAwait(false);

        var configDescriptor = OciDescriptor.Parse(manifest["config"], $"manifest {manifestDigest} config");
        var configDigest = ContentDigest.Parse(configDescriptor.Digest, "config digest");
        if (configDescriptor.Size is < 0 or > MaxJsonBytes)
        {
            throw new ImageException($"config {configDigest} has no size or is too large ({configDescriptor.Size} bytes)");
        }

        var configPath = await Blobs.EnsureAsync(configDigest, configDescriptor.Size, ct => source.OpenBlobAsync(configDescriptor, ct), null, cancellationToken).ConfigureAwait(false);
        blobs.Add(configDigest.ToString());
        var configJson = OciLayout.ParseObject(await File.ReadAllBytesAsync(configPath, cancellationToken).ConfigureAwait(false), $"config {configDigest}");
        var diffIds = (configJson["rootfs"]?["diff_ids"] as JsonArray)?.Select(d => ContentDigest.Parse(d?.GetValue<string>(), "diffID")).ToList() ?? [];
        var layers = manifest["layers"] as JsonArray ?? throw new ImageException($"manifest {manifestDigest} has no layers");
        if (layers.Count != diffIds.Count)
        {
            throw new ImageException($"manifest {manifestDigest} has {layers.Count} layers but its config names {diffIds.Count} diffIDs");
        }

        var budget = new UnpackBudget(_maxUnpackedBytes);
        var directories = new List<string>();
        var size = configDescriptor.Size;
        for (var i = 0; i < layers.Count; i++)
        {
            var layer = OciDescriptor.Parse(layers[i], $"layers[{i}]");
            var digest = ContentDigest.Parse(layer.Digest, "layer digest");
            blobs.Add(digest.ToString());
            size += Math.Max(0, layer.Size);

            // An unpacked layer needs its blob no more: a warm run neither downloads nor unpacks.
            directories.Add(await Layers.EnsureAsync(diffIds[i], () => FetchAsync(layer, digest), layer.MediaType, budget, progress, cancellationToken).ConfigureAwait(false));

            Task<string> FetchAsync(OciDescriptor descriptor, ContentDigest blob) =>
                Blobs.EnsureAsync(blob, descriptor.Size, ct => source.OpenBlobAsync(descriptor, ct), progress, cancellationToken);
        }

        var record = new ImageRecord
        {
            Reference = image.ToString(),
            Platform = platform.ToString(),
            ManifestDigest = manifestDigest.ToString(),
            Blobs = blobs.Distinct().ToList(),
            Layers = diffIds.Select(d => d.ToString()).ToList(),
            Size = size,
            LastUsed = DateTimeOffset.UtcNow,
        };
        await ImageRecords.UpdateAsync(_paths, records =>
            [.. records.Where(r => r.Reference != record.Reference || r.Platform != record.Platform), record], cancellationToken).ConfigureAwait(false);
        return new PulledImage(ImageConfig.FromJson(configJson, manifestDigest.ToString()), directories, record);
    }

    /// <summary>Where an image's manifest and blobs come from.</summary>
    private interface IImageSource
    {
        /// <summary>The platform's manifest; the digests of the indexes and manifest read on the way are added to <paramref name="blobs"/>.</summary>
        Task<(ContentDigest Digest, JsonObject Manifest)> ResolveAsync(ImagePlatform platform, List<string> blobs, CancellationToken cancellationToken);

        Task<Stream> OpenBlobAsync(OciDescriptor descriptor, CancellationToken cancellationToken);
    }

    private sealed class LayoutSource(OciLayout layout) : IImageSource
    {
        public Task<(ContentDigest Digest, JsonObject Manifest)> ResolveAsync(ImagePlatform platform, List<string> blobs, CancellationToken cancellationToken)
        {
            var (descriptor, manifest) = layout.ResolveManifest(platform);
            blobs.Add(descriptor.Digest);
            return Task.FromResult((ContentDigest.Parse(descriptor.Digest), manifest));
        }

        public Task<Stream> OpenBlobAsync(OciDescriptor descriptor, CancellationToken cancellationToken) => Task.FromResult(layout.OpenBlob(descriptor));
    }

    /// <summary>A registry; manifests asked for by digest come from the cache when it has them, and go into it.</summary>
    private sealed class RegistrySource(RegistryClient client, ImageReference image, BlobStore store) : IImageSource
    {
        public async Task<(ContentDigest Digest, JsonObject Manifest)> ResolveAsync(ImagePlatform platform, List<string> blobs, CancellationToken cancellationToken)
        {
            var reference = image.ManifestReference;
            for (var depth = 0; depth < 4; depth++)
            {
                var (digest, mediaType, json) = await ManifestAsync(reference, cancellationToken).ConfigureAwait(false);
                blobs.Add(digest.ToString());
                if (!OciMediaTypes.IsIndex(mediaType))
                {
                    return (digest, json);
                }

                reference = OciLayout.PickManifest(json, platform).Digest;
                ContentDigest.Parse(reference, "manifest digest");
            }

            throw new ImageException($"{image}: image indexes nest too deeply");
        }

        public Task<Stream> OpenBlobAsync(OciDescriptor descriptor, CancellationToken cancellationToken) =>
            client.OpenBlobAsync(image, ContentDigest.Parse(descriptor.Digest), cancellationToken);

        private async Task<(ContentDigest Digest, string MediaType, JsonObject Json)> ManifestAsync(string reference, CancellationToken cancellationToken)
        {
            byte[] content;
            ContentDigest digest;
            if (ContentDigest.TryParse(reference, out var known) && store.Contains(known!))
            {
                digest = known!;
                content = await File.ReadAllBytesAsync(store.Path(digest), cancellationToken).ConfigureAwait(false);
            }
            else
            {
                var manifest = await client.GetManifestAsync(image, reference, cancellationToken).ConfigureAwait(false);
                (content, digest) = (manifest.Content, manifest.Digest);
                await store.EnsureAsync(digest, content.Length, _ => Task.FromResult<Stream>(new MemoryStream(content)), null, cancellationToken).ConfigureAwait(false);
            }

            var json = OciLayout.ParseObject(content, $"manifest {digest}");
            var mediaType = json["mediaType"]?.GetValue<string>() is { Length: > 0 } declared ? declared
                : json["manifests"] is JsonArray ? OciMediaTypes.Index : OciMediaTypes.Manifest;
            return (digest, mediaType, json);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "image {Image} ({Manifest}): {Downloaded} blobs downloaded, {Unpacked} layers unpacked")]
    private static partial void LogPulled(ILogger logger, string image, string manifest, int downloaded, int unpacked);
}

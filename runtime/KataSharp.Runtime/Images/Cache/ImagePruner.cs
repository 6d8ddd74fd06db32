using KataSharp.Native.Files;
using KataSharp.Runtime.Storage;

namespace KataSharp.Runtime.Images.Cache;

/// <summary>What a prune removed.</summary>
public sealed record PruneReport(int Images, int Blobs, int Layers, long BlobBytes);

/// <summary>
/// Cleans the image cache: blobs and layers no recorded image refers to, leftovers of interrupted pulls, and with
/// <c>all</c> every image no running job uses. A layer some overlay has mounted is never removed. Pulls hold the
/// prune lock shared until their overlay is mounted, so none is half-way while this runs.
/// </summary>
public sealed class ImagePruner(ImageCachePaths paths, Func<IReadOnlySet<string>>? mountedLayers = null)
{
    private readonly Func<IReadOnlySet<string>> _mountedLayers = mountedLayers ?? (() => MountTable.OverlayLowers());

    public async Task<PruneReport> PruneAsync(bool all, CancellationToken cancellationToken)
    {
        paths.Create();
        using var held = await ImageCachePaths.LockAsync(paths.PruneLock, shared: false, cancellationToken).ConfigureAwait(false);
        var mounted = _mountedLayers();
        bool InUse(ImageRecord record) => record.Layers.Any(l => ContentDigest.TryParse(l, out var d) && mounted.Contains(paths.Layer(d!)));

        var removedImages = 0;
        var kept = ImageRecords.Load(paths).ToList();
        if (all)
        {
            await ImageRecords.UpdateAsync(paths, records =>
            {
                var keep = records.Where(InUse).ToList();
                removedImages = records.Count - keep.Count;
                kept = keep;
                return keep;
            }, cancellationToken).ConfigureAwait(false);
        }

        var keptBlobs = kept.SelectMany(r => r.Blobs).ToHashSet(StringComparer.Ordinal);
        var keptLayers = kept.SelectMany(r => r.Layers).ToHashSet(StringComparer.Ordinal);
        int blobs = 0, layers = 0;
        long bytes = 0;
        foreach (var file in Directory.EnumerateFiles(paths.Blobs))
        {
            if (!keptBlobs.Contains("sha256:" + Path.GetFileName(file)))
            {
                bytes += new FileInfo(file).Length;
                File.Delete(file);
                blobs++;
            }
        }

        foreach (var directory in Directory.EnumerateDirectories(paths.Layers))
        {
            if (!keptLayers.Contains("sha256:" + Path.GetFileName(directory)) && !mounted.Contains(directory))
            {
                SafeRemove.RemoveAll(directory);
                layers++;
            }
        }

        // Left by pulls that died; no pull runs now (the lock), so none is in use.
        foreach (var entry in Directory.EnumerateFileSystemEntries(paths.Temporary))
        {
            SafeRemove.RemoveAll(entry);
        }

        return new PruneReport(removedImages, blobs, layers, bytes);
    }
}

using KataSharp.Native.Files;
using Microsoft.Extensions.Logging;

namespace KataSharp.Runtime.Images.Cache;

/// <summary>
/// Layers unpacked once each, by diffID, under <see cref="ImageCachePaths.Layers"/>: the overlay lowers every job
/// of an image shares. A layer is unpacked into a temporary directory (with overlayfs whiteouts, and
/// <see cref="LayerApplier"/>'s refusals of path escapes and device nodes), its uncompressed sha256 is checked
/// against the diffID the image config names, and only then is it renamed into place. A lock per diffID makes
/// concurrent jobs share one unpack.
/// </summary>
public sealed partial class LayerStore(ImageCachePaths paths, ILogger logger)
{
    private int _unpacked;

    /// <summary>Layers this store unpacked (not found in place).</summary>
    public int Unpacked => _unpacked;

    public bool Contains(ContentDigest diffId) => Directory.Exists(paths.Layer(diffId));

    /// <summary>The layer's directory, unpacking the blob <paramref name="fetchBlob"/> brings first unless the store has it.</summary>
    /// <exception cref="ImageException">The layer is malformed, hostile, or does not match its diffID; nothing is stored.</exception>
    internal async Task<string> EnsureAsync(ContentDigest diffId, Func<Task<string>> fetchBlob, string mediaType, UnpackBudget budget, IPullProgress? progress, CancellationToken cancellationToken)
    {
        var target = paths.Layer(diffId);
        if (Directory.Exists(target))
        {
            return target;
        }

        using var held = await ImageCachePaths.LockAsync(paths.Lock("layer", diffId), shared: false, cancellationToken).ConfigureAwait(false);
        if (Directory.Exists(target))
        {
            return target;
        }

        progress?.Unpacking(diffId);
        var temporary = Path.Combine(paths.Temporary, $"layer-{diffId.Hex}-{Guid.NewGuid():N}");
        try
        {
            var blobPath = await fetchBlob().ConfigureAwait(false);
            await Task.Run(() => Unpack(diffId, blobPath, mediaType, temporary, budget, cancellationToken), cancellationToken).ConfigureAwait(false);
            Directory.Move(temporary, target);
        }
        catch
        {
            if (Directory.Exists(temporary))
            {
                SafeRemove.RemoveAll(temporary);
            }

            throw;
        }

        Interlocked.Increment(ref _unpacked);
        return target;
    }

    private void Unpack(ContentDigest diffId, string blobPath, string mediaType, string directory, UnpackBudget budget, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(directory);
        var applier = new LayerApplier(directory, overlayWhiteouts: true);
        using (var blob = File.OpenRead(blobPath))
        using (var tar = LayerCompression.Decompress(blob, mediaType, diffId.ToString()))
        using (var hashing = new HashingStream(budget.Meter(tar, $"layer {diffId}", leaveOpen: true), leaveOpen: false))
        {
            applier.Apply(hashing, diffId.ToString(), cancellationToken);
            var actual = hashing.Finish();
            if (actual != diffId)
            {
                throw new ImageException($"layer {diffId} does not match the image config's diffID (its uncompressed sha256 is {actual}): refused");
            }
        }

        if (applier.Neutralised is { DeviceNodes: > 0 } or { SetIdFiles: > 0 })
        {
            LogNeutralised(logger, diffId.ToString(), applier.Neutralised.DeviceNodes, applier.Neutralised.SetIdFiles);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "layer {Layer}: left out {DeviceNodes} device nodes and dropped set-uid/set-gid bits from {SetIdFiles} files, for the host's safety")]
    private static partial void LogNeutralised(ILogger logger, string layer, int deviceNodes, int setIdFiles);
}

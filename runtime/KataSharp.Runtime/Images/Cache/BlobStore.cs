namespace KataSharp.Runtime.Images.Cache;

/// <summary>Reports a blob's download progress: digest, bytes so far, bytes in all.</summary>
public interface IPullProgress
{
    void Downloading(ContentDigest digest, long done, long total);

    void Unpacking(ContentDigest diffId);
}

/// <summary>
/// Blobs by digest under <see cref="ImageCachePaths.Blobs"/>. A blob is written to a temporary file while its
/// sha256 and size are checked as it streams, and renamed into place only when both match, so every file in
/// the store is what its name says. A lock per digest makes concurrent pulls of one blob share one download.
/// </summary>
public sealed class BlobStore(ImageCachePaths paths)
{
    /// <summary>How long one read of a download may stall before it is given up.</summary>
    public static readonly TimeSpan StallTimeout = TimeSpan.FromSeconds(60);

    private int _downloaded;
    private long _downloadedBytes;

    /// <summary>Blobs this store downloaded (not found in place).</summary>
    public int Downloaded => _downloaded;

    public long DownloadedBytes => Interlocked.Read(ref _downloadedBytes);

    public bool Contains(ContentDigest digest) => File.Exists(paths.Blob(digest));

    public string Path(ContentDigest digest) => paths.Blob(digest);

    /// <summary>The path of the blob, fetching it with <paramref name="open"/> first unless the store has it.</summary>
    /// <param name="size">The size the descriptor gives; a blob of any other size is refused.</param>
    /// <exception cref="ImageException">The content does not match its digest or size; nothing is stored.</exception>
    public async Task<string> EnsureAsync(ContentDigest digest, long size, Func<CancellationToken, Task<Stream>> open, IPullProgress? progress, CancellationToken cancellationToken)
    {
        var path = paths.Blob(digest);
        if (File.Exists(path))
        {
            return path;
        }

        using var held = await ImageCachePaths.LockAsync(paths.Lock("blob", digest), shared: false, cancellationToken).ConfigureAwait(false);
        if (File.Exists(path))
        {
            return path; // Another job fetched it while this one waited.
        }

        var temporary = System.IO.Path.Combine(paths.Temporary, $"blob-{digest.Hex}-{Guid.NewGuid():N}");
        try
        {
            await DownloadAsync(digest, size, open, temporary, progress, cancellationToken).ConfigureAwait(false);
            File.Move(temporary, path);
        }
        finally
        {
            File.Delete(temporary);
        }

        Interlocked.Increment(ref _downloaded);
        Interlocked.Add(ref _downloadedBytes, size);
        return path;
    }

    private static async Task DownloadAsync(ContentDigest digest, long size, Func<CancellationToken, Task<Stream>> open, string temporary, IPullProgress? progress, CancellationToken cancellationToken)
    {
        using var stall = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var buffer = new byte[128 * 1024];
        try
        {
            stall.CancelAfter(StallTimeout);
            await using var source = await open(stall.Token).ConfigureAwait(false);
            await using var hashing = new HashingStream(source, leaveOpen: true);
            await using var output = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None);
            int n;
            while ((n = await hashing.ReadAsync(buffer, stall.Token).ConfigureAwait(false)) > 0)
            {
                if (hashing.BytesRead > size)
                {
                    throw new ImageException($"blob {digest} is larger than its descriptor's {size} bytes: refused");
                }

                await output.WriteAsync(buffer.AsMemory(0, n), stall.Token).ConfigureAwait(false);
                progress?.Downloading(digest, hashing.BytesRead, size);
                stall.CancelAfter(StallTimeout);
            }

            if (hashing.BytesRead != size)
            {
                throw new ImageException($"blob {digest} ended after {hashing.BytesRead} of its {size} bytes: refused");
            }

            var actual = hashing.Finish();
            if (actual != digest)
            {
                throw new ImageException($"blob {digest} does not match its digest (its sha256 is {actual}): refused");
            }

            output.Flush(flushToDisk: true);
        }
        catch (OperationCanceledException e) when (stall.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new ImageException($"blob {digest}: the download stalled for {StallTimeout.TotalSeconds} s", e);
        }
    }
}

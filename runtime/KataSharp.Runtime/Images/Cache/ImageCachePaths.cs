namespace KataSharp.Runtime.Images.Cache;

/// <summary>
/// The image cache under <c>&lt;stateDir&gt;/images</c>: <c>blobs/sha256/&lt;hex&gt;</c> as the registry served them,
/// <c>layers/&lt;diffID hex&gt;</c> each layer unpacked once (an overlay lower), <c>images.json</c> the images
/// pulled, <c>locks/</c> one lock file per digest, <c>tmp/</c> what is being downloaded or unpacked.
/// </summary>
public sealed record ImageCachePaths(string Root)
{
    /// <summary>The cache <paramref name="config"/> names (images.cacheDir).</summary>
    public static ImageCachePaths For(Configuration.ImagesConfig config) => new(Path.GetFullPath(config.CacheDir));

    public string Blobs => Path.Combine(Root, "blobs", "sha256");
    public string Layers => Path.Combine(Root, "layers");
    public string Locks => Path.Combine(Root, "locks");
    public string Temporary => Path.Combine(Root, "tmp");
    public string Records => Path.Combine(Root, "images.json");

    /// <summary>Held shared by every pull until its job's overlay is mounted, exclusive by prune.</summary>
    public string PruneLock => Path.Combine(Locks, "prune.lock");

    public string Blob(ContentDigest digest) => Path.Combine(Blobs, digest.Hex);
    public string Layer(ContentDigest diffId) => Path.Combine(Layers, diffId.Hex);
    public string Lock(string kind, ContentDigest digest) => Path.Combine(Locks, $"{kind}-{digest.Hex}.lock");

    /// <summary>Creates the directories (root-only) and returns this.</summary>
    public ImageCachePaths Create()
    {
        const UnixFileMode privateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        foreach (var directory in new[] { Root, Blobs, Layers, Locks, Temporary })
        {
            Directory.CreateDirectory(directory, privateMode);
        }

        return this;
    }

    /// <summary>An exclusive (or shared) lock on <paramref name="path"/>, creating the lock file first.</summary>
    internal static async Task<Native.Files.FileLock> LockAsync(string path, bool shared, CancellationToken cancellationToken)
    {
        if (!File.Exists(path))
        {
            await using (new FileStream(path, FileMode.OpenOrCreate, FileAccess.Write, FileShare.ReadWrite))
            {
            }
        }

        // Another job may be downloading a large layer meanwhile; its own timeouts bound how long that takes.
        return await Native.Files.FileLock.AcquireAsync(path, TimeSpan.FromHours(1), shared, cancellationToken).ConfigureAwait(false);
    }
}

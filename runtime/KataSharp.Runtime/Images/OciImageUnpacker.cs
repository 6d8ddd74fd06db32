using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;

namespace KataSharp.Runtime.Images;

/// <summary>
/// Unpacks an OCI image into a rootfs directory. The source is an OCI image layout directory, or an
/// OCI archive (a tar of a layout, as <c>skopeo copy ... oci-archive:</c> or <c>ctr export</c> write).
/// </summary>
public sealed partial class OciImageUnpacker
{
    /// <summary>The default bound on what one image may unpack to: larger than any ordinary image, smaller than a host's disk.</summary>
    public const long DefaultMaxUnpackedBytes = 16L << 30;

    private readonly ILogger _logger;
    private readonly long _maxUnpackedBytes;

    /// <param name="maxUnpackedBytes">The most bytes the decompressed layers (or an archive's extracted layout) of one image may total.</param>
    public OciImageUnpacker(ILogger logger, long maxUnpackedBytes = DefaultMaxUnpackedBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxUnpackedBytes);
        _logger = logger;
        _maxUnpackedBytes = maxUnpackedBytes;
    }

    /// <summary>Unpacks the linux/amd64 image at <paramref name="source"/> into <paramref name="rootfs"/> (created; must not exist or be empty).</summary>
    /// <exception cref="ImageException">The image is malformed, incomplete, or of an unsupported format. The rootfs is removed again.</exception>
    public Task<ImageConfig> UnpackAsync(string source, string rootfs, CancellationToken cancellationToken) =>
        Task.Run(() => Unpack(source, rootfs, cancellationToken), cancellationToken);

    /// <summary>Reads only the image config (Env, Cmd, ...).</summary>
    public Task<ImageConfig> ReadConfigAsync(string source, CancellationToken cancellationToken) =>
        Task.Run(() => WithLayout(source, Path.GetTempPath(), new UnpackBudget(_maxUnpackedBytes), layout => ReadConfig(layout, layout.ResolveManifest())), cancellationToken);

    private ImageConfig Unpack(string source, string rootfs, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        if (Directory.Exists(rootfs) && Directory.EnumerateFileSystemEntries(rootfs).Any())
        {
            throw new ImageException($"rootfs {rootfs} is not empty");
        }

        Directory.CreateDirectory(rootfs);
        try
        {
            // An archive's extraction and the layers share one budget: both land on the host's disk.
            var budget = new UnpackBudget(_maxUnpackedBytes);
            var config = WithLayout(source, Path.GetDirectoryName(Path.GetFullPath(rootfs))!, budget, layout =>
            {
                var (descriptor, manifest) = layout.ResolveManifest();
                var config = ReadConfig(layout, (descriptor, manifest));
                var applier = new LayerApplier(rootfs);
                var layers = manifest["layers"] as JsonArray ?? throw new ImageException($"manifest {descriptor.Digest} has no layers");

                // Every layer is verified (and held open) before the first is applied: a bad last layer leaves nothing half-done.
                var blobs = new List<(OciDescriptor Layer, Stream Blob)>();
                try
                {
                    for (var i = 0; i < layers.Count; i++)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        var layer = OciDescriptor.Parse(layers[i], $"layers[{i}]");
                        blobs.Add((layer, layout.OpenBlob(layer)));
                    }

                    foreach (var (layer, blob) in blobs)
                    {
                        using var tar = budget.Meter(LayerCompression.Decompress(blob, layer.MediaType, layer.Digest), $"layer {layer.Digest}", leaveOpen: false);
                        applier.Apply(tar, layer.Digest, cancellationToken);
                    }
                }
                finally
                {
                    blobs.ForEach(b => b.Blob.Dispose());
                }

                if (applier.Neutralised is { DeviceNodes: > 0 } or { SetIdFiles: > 0 })
                {
                    LogNeutralised(_logger, source, applier.Neutralised.DeviceNodes, applier.Neutralised.SetIdFiles);
                }

                return config;
            });
            LogUnpacked(_logger, source, rootfs, clock.ElapsedMilliseconds);
            return config;
        }
        catch
        {
            TryDelete(rootfs);
            throw;
        }
    }

    private static ImageConfig ReadConfig(OciLayout layout, (OciDescriptor Descriptor, JsonObject Manifest) resolved)
    {
        var configDescriptor = OciDescriptor.Parse(resolved.Manifest["config"], "manifest config");
        return ImageConfig.FromJson(layout.ReadJsonBlob(configDescriptor), resolved.Descriptor.Digest);
    }

    /// <summary>Runs <paramref name="action"/> on the layout at <paramref name="source"/>, extracting an archive to a scratch directory first.</summary>
    internal static T WithLayout<T>(string source, string scratchParent, UnpackBudget budget, Func<OciLayout, T> action)
    {
        if (Directory.Exists(source))
        {
            return action(new OciLayout(source));
        }

        if (!File.Exists(source))
        {
            throw new ImageException($"image {source} does not exist (expected an OCI layout directory or an OCI archive)");
        }

        var scratch = Path.Combine(scratchParent, $".oci-{Guid.NewGuid():N}");
        try
        {
            ExtractArchive(source, scratch, budget);
            return action(new OciLayout(scratch));
        }
        finally
        {
            TryDelete(scratch);
        }
    }

    /// <summary>Extracts the regular files of an OCI archive; anything else in it (links, devices) has no business in a layout.</summary>
    internal static void ExtractArchive(string archive, string directory, UnpackBudget budget)
    {
        Directory.CreateDirectory(directory);
        using var file = File.OpenRead(archive);
        Stream stream = file;
        var magic = new byte[2];
        if (file.Read(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b)
        {
            file.Position = 0;
            stream = new GZipStream(file, CompressionMode.Decompress);
        }
        else
        {
            file.Position = 0;
        }

        try
        {
            using var reader = new TarReader(budget.Meter(stream, archive, leaveOpen: true));
            while (reader.GetNextEntry() is { } entry)
            {
                if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile))
                {
                    continue;
                }

                var components = ScopedPath.Components(entry.Name, archive);
                if (components.Count == 0)
                {
                    continue;
                }

                var target = Path.Combine(directory, string.Join('/', components));
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                using var output = File.Create(target);
                entry.DataStream?.CopyTo(output);
            }
        }
        catch (Exception e) when (e is InvalidDataException or FormatException)
        {
            throw new ImageException($"{archive} is neither an OCI layout directory nor a valid OCI archive: {e.Message}", e);
        }
        catch (IOException e)
        {
            throw new ImageException($"{archive}: cannot extract it: {e.Message}", e);
        }
        finally
        {
            if (!ReferenceEquals(stream, file))
            {
                stream.Dispose();
            }
        }
    }

    private static void TryDelete(string directory)
    {
        try
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Best effort: the caller's own teardown removes the sandbox directory that holds it.
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "unpacked {Image} into {Rootfs} in {ElapsedMs} ms")]
    private static partial void LogUnpacked(ILogger logger, string image, string rootfs, long elapsedMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Image}: left out {DeviceNodes} device nodes and dropped set-uid/set-gid bits from {SetIdFiles} files, for the host's safety")]
    private static partial void LogNeutralised(ILogger logger, string image, int deviceNodes, int setIdFiles);
}

using System.Text.Json;
using System.Text.Json.Serialization;

namespace KataSharp.Runtime.Images.Cache;

/// <summary>One image in the cache: what was asked for, what it resolved to, and the blobs and layers it holds.</summary>
public sealed record ImageRecord
{
    public string Reference { get; init; } = "";
    public string Platform { get; init; } = "";
    public string ManifestDigest { get; init; } = "";

    /// <summary>Every blob of the image: indexes, manifest, config and compressed layers.</summary>
    public List<string> Blobs { get; init; } = [];

    /// <summary>diffIDs, bottom layer first.</summary>
    public List<string> Layers { get; init; } = [];

    /// <summary>The compressed size of config and layers, as docker's "SIZE" of a pull.</summary>
    public long Size { get; init; }

    public DateTimeOffset LastUsed { get; init; }
}

/// <summary><see cref="ImageCachePaths.Records"/>: the images pulled, by reference and platform; read and rewritten under its lock.</summary>
public static class ImageRecords
{
    public static IReadOnlyList<ImageRecord> Load(ImageCachePaths paths)
    {
        if (!File.Exists(paths.Records))
        {
            return [];
        }

        try
        {
            return JsonSerializer.Deserialize(File.ReadAllBytes(paths.Records), ImageRecordsJsonContext.Default.ListImageRecord) ?? [];
        }
        catch (JsonException e)
        {
            throw new ImageException($"{paths.Records} is damaged ({e.Message}); remove it and run katasharp prune --all", e);
        }
    }

    /// <summary>Replaces the records with what <paramref name="change"/> makes of them, atomically.</summary>
    public static async Task UpdateAsync(ImageCachePaths paths, Func<List<ImageRecord>, List<ImageRecord>> change, CancellationToken cancellationToken)
    {
        using var held = await ImageCachePaths.LockAsync(Path.Combine(paths.Locks, "records.lock"), shared: false, cancellationToken).ConfigureAwait(false);
        var records = change([.. Load(paths)]);
        var temporary = Path.Combine(paths.Temporary, $"images-{Guid.NewGuid():N}.json");
        await File.WriteAllBytesAsync(temporary, JsonSerializer.SerializeToUtf8Bytes(records, ImageRecordsJsonContext.Default.ListImageRecord), cancellationToken).ConfigureAwait(false);
        File.Move(temporary, paths.Records, overwrite: true);
    }
}

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(List<ImageRecord>))]
internal sealed partial class ImageRecordsJsonContext : JsonSerializerContext;

using System.Text.Json;
using System.Text.Json.Serialization;

namespace KataSharp.Runtime.Network;

/// <summary>
/// network.json in the sandbox directory: what a sandbox's network set-up made, kept current step by step, so
/// that any process (the one that made it, <c>katasharp rm</c>, a restarted shim) can take it all back. Its
/// <see cref="SubnetIndex"/> is also the sandbox's claim on its subnet.
/// </summary>
public sealed class NetworkRecord
{
    public int Version { get; set; } = 1;

    /// <summary>"pod" (a namespace someone else made) or "nat" (ours).</summary>
    public string Mode { get; set; } = "";

    public string? NetnsPath { get; set; }
    public int? SubnetIndex { get; set; }
    public string? GuestAddress { get; set; }
    public List<UndoStep> Undo { get; set; } = [];
}

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, UseStringEnumConverter = true)]
[JsonSerializable(typeof(NetworkRecord))]
internal sealed partial class NetworkRecordJsonContext : JsonSerializerContext;

/// <summary>Reads and writes network.json (atomically: a temporary file renamed over the old one).</summary>
public static class NetworkRecordStore
{
    public const string FileName = "network.json";

    public static string PathIn(string sandboxDirectory) => Path.Combine(sandboxDirectory, FileName);

    public static void Write(string sandboxDirectory, NetworkRecord record)
    {
        var path = PathIn(sandboxDirectory);
        File.WriteAllBytes(path + ".tmp", JsonSerializer.SerializeToUtf8Bytes(record, NetworkRecordJsonContext.Default.NetworkRecord));
        File.Move(path + ".tmp", path, overwrite: true);
    }

    /// <returns>Null when the sandbox has no network record (no network, or already torn down).</returns>
    /// <exception cref="NetworkException">The file exists but cannot be read.</exception>
    public static NetworkRecord? Read(string sandboxDirectory)
    {
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllBytes(PathIn(sandboxDirectory)), NetworkRecordJsonContext.Default.NetworkRecord);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException)
        {
            throw new NetworkException($"cannot read {PathIn(sandboxDirectory)}: {e.Message}", NetworkErrorKind.Internal, e);
        }
    }

    public static void Delete(string sandboxDirectory) => File.Delete(PathIn(sandboxDirectory));
}

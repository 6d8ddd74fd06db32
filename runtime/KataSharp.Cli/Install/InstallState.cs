using System.Text.Json;
using System.Text.Json.Serialization;

namespace KataSharp.Cli.Install;

/// <summary>What <c>katasharp install</c> did on this node, kept in the install root for <c>uninstall</c>.</summary>
/// <param name="ContainerdConfig">The config it edited.</param>
/// <param name="CreatedConfig">True when there was no config and install wrote it.</param>
/// <param name="DropIn">The drop-in file it wrote, or null (a version 2 config holds the entry itself).</param>
/// <param name="ConfigSha256">The hash of the katasharp.yaml it wrote, or null when it kept one already there.</param>
/// <param name="LinkDirectory">Where it linked the binaries, or null.</param>
/// <param name="Node">The Kubernetes node it labelled, or null.</param>
internal sealed record InstallState(
    string ContainerdConfig,
    bool CreatedConfig,
    string? DropIn,
    string? ConfigSha256,
    string? LinkDirectory,
    string? Node)
{
    public static InstallState? Read(string path) =>
        File.Exists(path) ? JsonSerializer.Deserialize(File.ReadAllText(path), InstallStateJsonContext.Default.InstallState) : null;

    public void Write(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path + ".new", JsonSerializer.Serialize(this, InstallStateJsonContext.Default.InstallState));
        File.Move(path + ".new", path, overwrite: true);
    }
}

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(InstallState))]
internal sealed partial class InstallStateJsonContext : JsonSerializerContext;

using System.Text.Json.Serialization;
using KataSharp.Runtime.Configuration;

namespace KataSharp.Cli.Env;

/// <summary>What <c>katasharp env</c> prints: the version, the configuration in force (dotted keys) and the paths it resolves to.</summary>
internal sealed record EnvReport(
    string Version,
    string? ConfigFile,
    Dictionary<string, string> Config,
    IReadOnlyList<string> EnableAnnotations,
    Dictionary<string, string> Paths)
{
    public static EnvReport From(LoadedConfig loaded)
    {
        var config = loaded.Config;
        return new EnvReport(
            KataSharp.Runtime.RuntimeInfo.Version,
            loaded.SourcePath,
            ConfigYamlWriter.Values(config).ToDictionary(StringComparer.Ordinal),
            config.EnableAnnotations.ToList(),
            new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["configFile"] = loaded.SourcePath ?? "",
                ["executable"] = Environment.ProcessPath ?? "",
                ["kernel"] = GuestAssets.ResolveKernel(config),
                ["initrd"] = GuestAssets.ResolveInitrd(config),
                ["image"] = GuestAssets.ResolveImage(config),
                ["defaultImage"] = GuestAssets.DefaultImage(),
                ["sandboxes"] = Path.Combine(config.Runtime.StateDir, "sandboxes"),
            });
    }
}

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(EnvReport))]
internal sealed partial class EnvJsonContext : JsonSerializerContext;

using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace KataSharp.Runtime.Configuration;

/// <summary>The configuration in force and the file it came from (null: the built-in defaults).</summary>
public sealed record LoadedConfig(KataSharpConfig Config, string? SourcePath);

/// <summary>
/// Finds and parses katasharp.yaml (design decision 11): <c>--config</c>, then <c>$KATASHARP_CONFIG</c>,
/// then <c>/etc/katasharp/katasharp.yaml</c>, then the built-in defaults. Uses YamlDotNet's
/// representation model only: its reflection deserializer does not survive NativeAOT trimming.
/// </summary>
public sealed class ConfigLoader
{
    public const string EnvironmentVariable = "KATASHARP_CONFIG";
    public const string SystemPath = "/etc/katasharp/katasharp.yaml";

    private readonly Func<string, string?> _getEnvironment;
    private readonly string _systemPath;

    public ConfigLoader() : this(Environment.GetEnvironmentVariable, SystemPath)
    {
    }

    internal ConfigLoader(Func<string, string?> getEnvironment, string systemPath)
    {
        _getEnvironment = getEnvironment;
        _systemPath = systemPath;
    }

    /// <summary>Loads the configuration. A file named explicitly (flag or environment) must exist; the system file may not.</summary>
    /// <exception cref="ConfigException">The file is missing, unreadable or invalid.</exception>
    public LoadedConfig Load(string? explicitPath = null)
    {
        if (!string.IsNullOrEmpty(explicitPath))
        {
            return LoadFile(explicitPath, "--config");
        }

        if (_getEnvironment(EnvironmentVariable) is { Length: > 0 } fromEnvironment)
        {
            return LoadFile(fromEnvironment, "$" + EnvironmentVariable);
        }

        return File.Exists(_systemPath) ? LoadFile(_systemPath, null) : new LoadedConfig(new KataSharpConfig(), null);
    }

    private static LoadedConfig LoadFile(string path, string? namedBy)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            var by = namedBy is null ? "" : $" (named by {namedBy})";
            throw new ConfigException($"cannot read configuration file {path}{by}: {e.Message}", e);
        }

        return new LoadedConfig(Parse(text, path), Path.GetFullPath(path));
    }

    /// <summary>Parses YAML text over the built-in defaults. <paramref name="source"/> names the text in errors.</summary>
    public static KataSharpConfig Parse(string yaml, string source)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException e)
        {
            throw new ConfigException($"{source}:{e.Start.Line}:{e.Start.Column}: invalid YAML: {e.Message}", e);
        }

        var config = new KataSharpConfig();
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is YamlScalarNode { Value: null or "" or "~" })
        {
            return config;
        }

        if (stream.Documents.Count > 1)
        {
            throw new ConfigException($"{source}: expected one YAML document, found {stream.Documents.Count}");
        }

        if (stream.Documents[0].RootNode is not YamlMappingNode root)
        {
            throw Error(source, stream.Documents[0].RootNode, "the top level must be a mapping of sections (hypervisor:, agent:, ...)");
        }

        var sections = ConfigKeys.Sections.ToHashSet(StringComparer.Ordinal);
        foreach (var (keyNode, valueNode) in root.Children)
        {
            var key = KeyName(source, keyNode);
            if (key == ConfigKeys.EnableAnnotationsKey)
            {
                config = config with { EnableAnnotations = ParseEnableAnnotations(source, valueNode) };
            }
            else if (sections.Contains(key))
            {
                config = ParseSection(config, source, key, valueNode);
            }
            else
            {
                throw Error(source, keyNode, $"unknown key '{key}' (known: {string.Join(", ", sections.Append(ConfigKeys.EnableAnnotationsKey))})");
            }
        }

        return config;
    }

    private static KataSharpConfig ParseSection(KataSharpConfig config, string source, string section, YamlNode node)
    {
        if (node is YamlScalarNode { Value: null or "" or "~", Style: ScalarStyle.Plain })
        {
            return config;
        }

        if (node is not YamlMappingNode mapping)
        {
            throw Error(source, node, $"'{section}' must be a mapping");
        }

        foreach (var (keyNode, valueNode) in mapping.Children)
        {
            var name = $"{section}.{KeyName(source, keyNode)}";
            var key = ConfigKeys.Find(name)
                ?? throw Error(source, keyNode, $"unknown key '{name}' (known in '{section}': {string.Join(", ", ConfigKeys.All.Where(k => k.Name.StartsWith(section + ".", StringComparison.Ordinal)).Select(k => k.Name[(section.Length + 1)..]))})");
            if (valueNode is not YamlScalarNode scalar)
            {
                throw Error(source, valueNode, $"'{name}' must be {key.ValueDescription}, not a {(valueNode is YamlMappingNode ? "mapping" : "list")}");
            }

            if (scalar.Style == ScalarStyle.Plain && scalar.Value is null or "~" or "null" or "")
            {
                throw Error(source, valueNode, $"'{name}' has no value (expected {key.ValueDescription})");
            }

            try
            {
                config = key.Apply(config, scalar.Value ?? "");
            }
            catch (FormatException e)
            {
                throw Error(source, valueNode, $"bad value for '{name}': {e.Message} (expected {key.ValueDescription})");
            }
        }

        return config;
    }

    private static List<string> ParseEnableAnnotations(string source, YamlNode node)
    {
        if (node is YamlScalarNode { Value: null or "" or "~", Style: ScalarStyle.Plain })
        {
            return [];
        }

        if (node is not YamlSequenceNode sequence)
        {
            throw Error(source, node, $"'{ConfigKeys.EnableAnnotationsKey}' must be a list of keys such as hypervisor.vcpus");
        }

        var keys = new List<string>();
        foreach (var item in sequence.Children)
        {
            if (item is not YamlScalarNode { Value: { Length: > 0 } name })
            {
                throw Error(source, item, $"'{ConfigKeys.EnableAnnotationsKey}' entries must be key names such as hypervisor.vcpus");
            }

            var key = ConfigKeys.Find(name) ?? throw Error(source, item, $"'{ConfigKeys.EnableAnnotationsKey}' names unknown key '{name}'");
            if (!key.Overridable)
            {
                throw Error(source, item, $"'{name}' can never be overridden by a pod annotation: it names a host path or executable");
            }

            keys.Add(name);
        }

        return keys;
    }

    private static string KeyName(string source, YamlNode node) =>
        node is YamlScalarNode { Value: { Length: > 0 } value } ? value : throw Error(source, node, "keys must be plain names");

    private static ConfigException Error(string source, YamlNode node, string message) =>
        new($"{source}:{node.Start.Line}:{node.Start.Column}: {message}");
}

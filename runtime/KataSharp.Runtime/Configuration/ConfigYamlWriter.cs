using System.Text;

namespace KataSharp.Runtime.Configuration;

/// <summary>Prints a configuration back as katasharp.yaml (for <c>katasharp env</c>), in the loader's key order.</summary>
public static class ConfigYamlWriter
{
    public static string Write(KataSharpConfig config)
    {
        var text = new StringBuilder();
        string? section = null;
        foreach (var (name, value) in Values(config))
        {
            var dot = name.IndexOf('.', StringComparison.Ordinal);
            var keySection = name[..dot];
            if (keySection != section)
            {
                section = keySection;
                text.Append(section).Append(":\n");
            }

            text.Append("  ").Append(name[(dot + 1)..]).Append(": ").Append(Scalar(value)).Append('\n');
        }

        text.Append(ConfigKeys.EnableAnnotationsKey).Append(':');
        if (config.EnableAnnotations.Count == 0)
        {
            text.Append(" []\n");
        }
        else
        {
            text.Append('\n');
            foreach (var key in config.EnableAnnotations)
            {
                text.Append("  - ").Append(key).Append('\n');
            }
        }

        return text.ToString();
    }

    /// <summary>Every scalar key as its dotted name (<c>hypervisor.path</c>) and its value as katasharp.yaml spells it, in the loader's order.</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> Values(KataSharpConfig config) =>
        ConfigKeys.All.Select(key => KeyValuePair.Create(key.Name, key.Format(config))).ToList();

    /// <summary>Quotes a scalar unless it is a plain word, number or path that YAML reads back unchanged.</summary>
    public static string Scalar(string value)
    {
        var plain = value.Length > 0
            && value.All(c => char.IsAsciiLetterOrDigit(c) || c is '/' or '.' or '_' or '-' or '+')
            && value is not ("true" or "false" or "null" or "yes" or "no" or "on" or "off" or "~")
            && value[0] != '-';
        return plain ? value : "\"" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
    }
}

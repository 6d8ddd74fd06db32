namespace KataSharp.Runtime.Configuration;

/// <summary>
/// Applies per-pod <c>io.katasharp.config.&lt;key&gt;</c> annotations, but only for the keys the
/// configuration's <c>enableAnnotations</c> allows (design decision 11). Anything else is refused
/// outright rather than ignored, so a pod never silently runs with settings it did not ask for.
/// </summary>
public static class ConfigAnnotations
{
    public const string Prefix = "io.katasharp.config.";

    /// <exception cref="ConfigException">An annotation names an unknown or a disallowed key, or has a bad value.</exception>
    public static KataSharpConfig Apply(KataSharpConfig config, IEnumerable<KeyValuePair<string, string>> annotations)
    {
        var allowed = config.EnableAnnotations.ToHashSet(StringComparer.Ordinal);
        var result = config;
        foreach (var (annotation, value) in annotations.OrderBy(a => a.Key, StringComparer.Ordinal))
        {
            if (!annotation.StartsWith(Prefix, StringComparison.Ordinal))
            {
                continue;
            }

            var name = annotation[Prefix.Length..];
            var key = ConfigKeys.Find(name) ?? throw new ConfigException($"annotation {annotation}: unknown configuration key '{name}'");
            if (!key.Overridable || !allowed.Contains(name))
            {
                throw new ConfigException($"annotation {annotation}: overriding '{name}' is not allowed (the configuration's enableAnnotations does not list it)");
            }

            try
            {
                result = key.Apply(result, value);
            }
            catch (FormatException e)
            {
                throw new ConfigException($"annotation {annotation}: bad value: {e.Message} (expected {key.ValueDescription})", e);
            }
        }

        // The allow-list itself is never overridable: keep the operator's.
        return result with { EnableAnnotations = config.EnableAnnotations };
    }
}

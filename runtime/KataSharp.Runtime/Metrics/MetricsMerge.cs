using System.Text;

namespace KataSharp.Runtime.Metrics;

/// <summary>One shim's scrape as the monitor got it: its text, or why there is none.</summary>
public sealed record ShimScrape(string SandboxId, string? Text, string? Error);

/// <summary>
/// The union of every shim's metrics, as <c>katasharp monitor</c> serves them: each sample labelled with its
/// sandbox, the samples of one family from all shims together under one HELP and TYPE (the text format
/// allows a family only once), and <c>katasharp_monitor_scrape_up</c> saying which shims answered.
/// </summary>
public static class MetricsMerge
{
    public static string Merge(IEnumerable<ShimScrape> scrapes)
    {
        var families = new Dictionary<string, Family>(StringComparer.Ordinal);
        var order = new List<Family>();
        var up = new MetricsText().Family("katasharp_monitor_scrape_up", MetricType.Gauge, "1 when the sandbox's shim answered the last scrape, else 0.");
        foreach (var scrape in scrapes.OrderBy(s => s.SandboxId, StringComparer.Ordinal))
        {
            up.Sample("katasharp_monitor_scrape_up", scrape.Text is null ? 0 : 1, ("sandbox", scrape.SandboxId));
            if (scrape.Text is { } text)
            {
                Add(text, scrape.SandboxId, families, order);
            }
        }

        var merged = new StringBuilder(up.ToString());
        foreach (var family in order)
        {
            if (family.Help is { } help)
            {
                merged.Append("# HELP ").Append(family.Name).Append(' ').Append(help).Append('\n');
            }

            merged.Append("# TYPE ").Append(family.Name).Append(' ').Append(family.Type).Append('\n');
            foreach (var sample in family.Samples)
            {
                merged.Append(sample).Append('\n');
            }
        }

        return merged.ToString();
    }

    /// <summary>The sample line with <c>sandbox="id"</c> as its first label.</summary>
    public static string WithSandbox(string sample, string sandboxId)
    {
        var label = new StringBuilder();
        MetricsText.AppendLabels(label, [("sandbox", sandboxId)]);
        var brace = sample.IndexOf('{', StringComparison.Ordinal);
        var space = sample.IndexOf(' ', StringComparison.Ordinal);
        if (brace >= 0 && (space < 0 || brace < space))
        {
            var inner = label.ToString(1, label.Length - 2);
            return sample[(brace + 1)..].StartsWith('}')
                ? string.Concat(sample.AsSpan(0, brace + 1), inner, sample.AsSpan(brace + 1))
                : string.Concat(sample.AsSpan(0, brace + 1), inner + ",", sample.AsSpan(brace + 1));
        }

        return space < 0 ? sample : string.Concat(sample.AsSpan(0, space), label.ToString(), sample.AsSpan(space));
    }

    private static void Add(string text, string sandboxId, Dictionary<string, Family> families, List<Family> order)
    {
        Family? current = null;
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.Length == 0)
            {
                continue;
            }

            if (line.StartsWith('#'))
            {
                var parts = line.Split(' ', 4);
                if (parts.Length >= 3 && parts[1] is "HELP" or "TYPE")
                {
                    current = Get(parts[2], families, order);
                    if (parts[1] == "HELP")
                    {
                        current.Help ??= parts.Length > 3 ? parts[3] : "";
                    }
                    else if (parts.Length > 3)
                    {
                        current.Type = parts[3];
                    }
                }

                continue;
            }

            var name = line[..NameEnd(line)];
            if (current is null || !name.StartsWith(current.Name, StringComparison.Ordinal))
            {
                current = Get(name, families, order);
            }

            current.Samples.Add(WithSandbox(line, sandboxId));
        }
    }

    private static int NameEnd(string sample)
    {
        var end = sample.IndexOfAny(['{', ' ']);
        return end < 0 ? sample.Length : end;
    }

    private static Family Get(string name, Dictionary<string, Family> families, List<Family> order)
    {
        if (!families.TryGetValue(name, out var family))
        {
            family = new Family(name);
            families[name] = family;
            order.Add(family);
        }

        return family;
    }

    private sealed class Family(string name)
    {
        public string Name { get; } = name;

        public string? Help { get; set; }

        public string Type { get; set; } = "untyped";

        public List<string> Samples { get; } = [];
    }
}

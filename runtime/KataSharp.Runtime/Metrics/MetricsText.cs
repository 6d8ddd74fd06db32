using System.Globalization;
using System.Text;

namespace KataSharp.Runtime.Metrics;

/// <summary>
/// Writes the Prometheus text exposition format (version 0.0.4): each family's HELP and TYPE, then its
/// samples. Written here rather than taken from prometheus-net: the shim needs a writer and the monitor a
/// reader of the same format, and neither a registry nor the library's HTTP stack.
/// </summary>
public sealed class MetricsText
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    private readonly StringBuilder _text = new();

    public MetricsText Family(string name, MetricType type, string help)
    {
        _text.Append("# HELP ").Append(name).Append(' ').Append(EscapeHelp(help)).Append('\n');
        _text.Append("# TYPE ").Append(name).Append(' ').Append(TypeName(type)).Append('\n');
        return this;
    }

    public MetricsText Sample(string name, double value, params ReadOnlySpan<(string Name, string Value)> labels)
    {
        _text.Append(name);
        AppendLabels(_text, labels);
        _text.Append(' ').Append(FormatValue(value)).Append('\n');
        return this;
    }

    /// <summary>A histogram's cumulative buckets (with +Inf), sum and count, under a family written before.</summary>
    public MetricsText Histogram(string name, HistogramSnapshot histogram, params ReadOnlySpan<(string Name, string Value)> labels)
    {
        var withLe = new (string Name, string Value)[labels.Length + 1];
        labels.CopyTo(withLe);
        long cumulative = 0;
        for (var i = 0; i < histogram.Bounds.Count; i++)
        {
            cumulative += histogram.Counts[i];
            withLe[^1] = ("le", FormatValue(histogram.Bounds[i]));
            Sample(name + "_bucket", cumulative, withLe);
        }

        withLe[^1] = ("le", "+Inf");
        Sample(name + "_bucket", histogram.Count, withLe);
        Sample(name + "_sum", histogram.Sum, labels);
        Sample(name + "_count", histogram.Count, labels);
        return this;
    }

    public override string ToString() => _text.ToString();

    public static string FormatValue(double value) =>
        double.IsPositiveInfinity(value) ? "+Inf"
        : double.IsNegativeInfinity(value) ? "-Inf"
        : double.IsNaN(value) ? "NaN"
        : value.ToString("R", CultureInfo.InvariantCulture);

    public static string TypeName(MetricType type) => type switch
    {
        MetricType.Counter => "counter",
        MetricType.Gauge => "gauge",
        MetricType.Histogram => "histogram",
        _ => "untyped",
    };

    internal static void AppendLabels(StringBuilder text, ReadOnlySpan<(string Name, string Value)> labels)
    {
        if (labels.Length == 0)
        {
            return;
        }

        text.Append('{');
        for (var i = 0; i < labels.Length; i++)
        {
            if (i > 0)
            {
                text.Append(',');
            }

            text.Append(labels[i].Name).Append("=\"");
            foreach (var c in labels[i].Value)
            {
                text.Append(c switch
                {
                    '\\' => "\\\\",
                    '"' => "\\\"",
                    '\n' => "\\n",
                    _ => c.ToString(),
                });
            }

            text.Append('"');
        }

        text.Append('}');
    }

    private static string EscapeHelp(string help) => help.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}

public enum MetricType
{
    Counter,
    Gauge,
    Histogram,
}

using System.Globalization;

namespace KataSharp.Cli;

/// <summary>Parses the human-friendly values of the command line: sizes, durations, CPU counts and signals.</summary>
internal static class ValueParsers
{
    /// <summary>"512M", "1G", "1.5g", "65536k", "1048576" (bytes) → bytes.</summary>
    public static long ParseSize(string text, string option)
    {
        var t = text.Trim();
        if (t.Length == 0)
        {
            throw new UsageException($"{option}: empty size");
        }

        // Accept 512M, 512MB and 512MiB alike (binary units throughout, as docker does).
        var lower = t.ToLowerInvariant();
        foreach (var suffix in new[] { "ib", "b" })
        {
            if (lower.Length > suffix.Length + 1 && lower.EndsWith(suffix, StringComparison.Ordinal) && lower[^(suffix.Length + 1)] is 'k' or 'm' or 'g' or 't')
            {
                lower = lower[..^suffix.Length];
                break;
            }
        }

        t = lower;
        var unit = t[^1];
        long multiplier = unit switch
        {
            'k' => 1L << 10,
            'm' => 1L << 20,
            'g' => 1L << 30,
            't' => 1L << 40,
            _ => 1,
        };
        var number = char.IsAsciiLetter(t[^1]) ? t[..^1] : t;
        if (!double.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value) || value <= 0)
        {
            throw new UsageException($"{option}: '{text}' is not a size (e.g. 512M, 1G)");
        }

        return (long)(value * multiplier);
    }

    /// <summary>"30s", "5m", "1h", "500ms", "90" (seconds), "1m30s" → a duration.</summary>
    public static TimeSpan ParseDuration(string text, string option)
    {
        var t = text.Trim().ToLowerInvariant();
        if (double.TryParse(t, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var bare) && bare > 0)
        {
            return TimeSpan.FromSeconds(bare);
        }

        var total = TimeSpan.Zero;
        var i = 0;
        while (i < t.Length)
        {
            var start = i;
            while (i < t.Length && (char.IsAsciiDigit(t[i]) || t[i] == '.'))
            {
                i++;
            }

            var unitStart = i;
            while (i < t.Length && char.IsAsciiLetter(t[i]))
            {
                i++;
            }

            if (start == unitStart || !double.TryParse(t[start..unitStart], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var n))
            {
                throw new UsageException($"{option}: '{text}' is not a duration (e.g. 30s, 5m, 1h)");
            }

            total += t[unitStart..i] switch
            {
                "ms" => TimeSpan.FromMilliseconds(n),
                "s" => TimeSpan.FromSeconds(n),
                "m" => TimeSpan.FromMinutes(n),
                "h" => TimeSpan.FromHours(n),
                _ => throw new UsageException($"{option}: '{text}' has an unknown unit (ms, s, m, h)"),
            };
        }

        return total > TimeSpan.Zero ? total : throw new UsageException($"{option}: the duration must be positive");
    }

    public static double ParseCpus(string text, string option) =>
        double.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var cpus) && cpus > 0 && cpus <= 256
            ? cpus
            : throw new UsageException($"{option}: '{text}' is not a CPU count (e.g. 1, 2, 0.5)");

    private static readonly Dictionary<string, int> Signals = new(StringComparer.OrdinalIgnoreCase)
    {
        ["HUP"] = 1, ["INT"] = 2, ["QUIT"] = 3, ["ILL"] = 4, ["TRAP"] = 5, ["ABRT"] = 6, ["BUS"] = 7, ["FPE"] = 8,
        ["KILL"] = 9, ["USR1"] = 10, ["SEGV"] = 11, ["USR2"] = 12, ["PIPE"] = 13, ["ALRM"] = 14, ["TERM"] = 15,
        ["CHLD"] = 17, ["CONT"] = 18, ["STOP"] = 19, ["TSTP"] = 20, ["TTIN"] = 21, ["TTOU"] = 22, ["WINCH"] = 28,
    };

    /// <summary>"9", "KILL", "SIGKILL", "sigterm" → the signal number.</summary>
    public static int ParseSignal(string text)
    {
        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var number) && number is > 0 and < 65)
        {
            return number;
        }

        var name = text.StartsWith("SIG", StringComparison.OrdinalIgnoreCase) ? text[3..] : text;
        return Signals.TryGetValue(name, out var signal) ? signal : throw new UsageException($"unknown signal '{text}'");
    }
}

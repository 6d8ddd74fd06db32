using System.Text;

namespace KataSharp.Protocol.Logging;

/// <summary>
/// logfmt, as containerd and its shims write their logs (<c>time=... level=info msg="..." key=value</c>):
/// the one line format the agent, the shim and the CLI share, so that a line from the guest can be read
/// back on the host with its level and fields.
/// </summary>
public static class Logfmt
{
    /// <summary>Appends <c> key=value</c> (no leading space for the first pair), quoting the value where logfmt needs it.</summary>
    public static void AppendPair(StringBuilder line, string key, string? value)
    {
        if (line.Length > 0)
        {
            line.Append(' ');
        }

        AppendKey(line, key);
        line.Append('=');
        AppendValue(line, value ?? "");
    }

    /// <summary>
    /// The pairs of one logfmt line, in order; null when the line is not logfmt (a kernel message, a panic's
    /// stack trace): every word must be key=value.
    /// </summary>
    public static IReadOnlyList<KeyValuePair<string, string>>? Parse(ReadOnlySpan<char> line)
    {
        var pairs = new List<KeyValuePair<string, string>>();
        var i = 0;
        while (true)
        {
            while (i < line.Length && line[i] == ' ')
            {
                i++;
            }

            if (i == line.Length)
            {
                return pairs.Count > 0 ? pairs : null;
            }

            var keyStart = i;
            while (i < line.Length && line[i] is not (' ' or '=' or '"'))
            {
                i++;
            }

            if (i == keyStart)
            {
                return null;
            }

            var key = line[keyStart..i].ToString();
            if (i == line.Length || line[i] != '=')
            {
                return null;
            }

            i++;
            string value;
            if (i < line.Length && line[i] == '"')
            {
                if (ReadQuoted(line, ref i) is not { } quoted)
                {
                    return null;
                }

                value = quoted;
            }
            else
            {
                var valueStart = i;
                while (i < line.Length && line[i] != ' ')
                {
                    i++;
                }

                value = line[valueStart..i].ToString();
            }

            pairs.Add(new(key, value));
        }
    }

    private static string? ReadQuoted(ReadOnlySpan<char> line, ref int i)
    {
        var value = new StringBuilder();
        for (i++; i < line.Length; i++)
        {
            var c = line[i];
            if (c == '"')
            {
                i++;
                return i == line.Length || line[i] == ' ' ? value.ToString() : null;
            }

            if (c != '\\')
            {
                value.Append(c);
                continue;
            }

            if (++i == line.Length)
            {
                return null;
            }

            if (line[i] == 'u' && i + 4 < line.Length
                && int.TryParse(line.Slice(i + 1, 4), System.Globalization.NumberStyles.AllowHexSpecifier, System.Globalization.CultureInfo.InvariantCulture, out var code))
            {
                value.Append((char)code);
                i += 4;
                continue;
            }

            value.Append(line[i] switch
            {
                'n' => '\n',
                'r' => '\r',
                't' => '\t',
                var other => other,
            });
        }

        return null;
    }

    private static void AppendKey(StringBuilder line, string key)
    {
        foreach (var c in key)
        {
            // A key is never quoted: whatever would need quoting becomes '_'.
            line.Append(c is ' ' or '=' or '"' || char.IsControl(c) ? '_' : c);
        }
    }

    private static void AppendValue(StringBuilder line, string value)
    {
        if (value.Length > 0 && !NeedsQuotes(value))
        {
            line.Append(value);
            return;
        }

        line.Append('"');
        foreach (var c in value)
        {
            switch (c)
            {
                case '"':
                    line.Append("\\\"");
                    break;
                case '\\':
                    line.Append("\\\\");
                    break;
                case '\n':
                    line.Append("\\n");
                    break;
                case '\r':
                    line.Append("\\r");
                    break;
                case '\t':
                    line.Append("\\t");
                    break;
                default:
                    if (char.IsControl(c))
                    {
                        line.Append("\\u").Append(((int)c).ToString("x4", System.Globalization.CultureInfo.InvariantCulture));
                    }
                    else
                    {
                        line.Append(c);
                    }

                    break;
            }
        }

        line.Append('"');
    }

    private static bool NeedsQuotes(string value)
    {
        foreach (var c in value)
        {
            if (c is ' ' or '=' or '"' or '\\' || char.IsControl(c))
            {
                return true;
            }
        }

        return false;
    }
}

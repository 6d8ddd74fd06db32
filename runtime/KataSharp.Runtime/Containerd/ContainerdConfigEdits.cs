using System.Text.RegularExpressions;

namespace KataSharp.Runtime.Containerd;

/// <summary>
/// The edits <c>katasharp install</c> makes to a containerd config.toml, and their exact reversal.
/// Every line it adds carries a marker and every line it replaces stays in the file commented out,
/// so <c>katasharp uninstall</c> finds them again from the file alone, even when its own state is gone
/// or someone edited the config since.
/// </summary>
public static partial class ContainerdConfigEdits
{
    /// <summary>Ends a line that install added.</summary>
    public const string AddedMarker = "  # added by katasharp install";

    /// <summary>Starts a line that install replaced; uninstall uncomments it.</summary>
    public const string ReplacedPrefix = "# replaced by katasharp install: ";

    public const string BlockBegin = "# katasharp install: begin (katasharp uninstall removes this block)";
    public const string BlockEnd = "# katasharp install: end";

    /// <summary>
    /// Makes the config import <paramref name="dropIn"/>: into an existing top-level imports array
    /// (the original lines kept, commented out), else as a new line after <c>version</c>. Unchanged when
    /// the imports already name it or a glob that matches it.
    /// </summary>
    public static string AddImport(string config, string dropIn)
    {
        var lines = config.Split('\n').ToList();
        var (start, end) = FindImports(lines);
        if (start < 0)
        {
            var at = lines.FindIndex(l => VersionLine().IsMatch(l.Trim()));
            lines.Insert(at + 1, $"imports = [{Quote(dropIn)}]{AddedMarker}");
            return string.Join('\n', lines);
        }

        var entries = ImportEntries(string.Join('\n', lines.GetRange(start, end - start + 1)));
        if (entries.Any(e => Covers(e, dropIn)))
        {
            return config;
        }

        var replaced = lines.GetRange(start, end - start + 1).Select(l => ReplacedPrefix + l).ToList();
        lines.RemoveRange(start, end - start + 1);
        replaced.Add($"imports = [{string.Join(", ", entries.Append(dropIn).Select(Quote))}]{AddedMarker}");
        lines.InsertRange(start, replaced);
        return string.Join('\n', lines);
    }

    /// <summary>Appends <paramref name="block"/> between markers (after removing an earlier one).</summary>
    public static string AddBlock(string config, string block)
    {
        var text = RemoveBlock(config);
        var separator = text.Length == 0 || text.EndsWith('\n') ? "" : "\n";
        return $"{text}{separator}{BlockBegin}\n{block.TrimEnd('\n')}\n{BlockEnd}\n";
    }

    /// <summary>Undoes <see cref="AddImport"/> and <see cref="AddBlock"/>: drops the added lines and block, uncomments the replaced lines.</summary>
    public static string Revert(string config) => RemoveAddedLines(RemoveBlock(config));

    /// <summary>True when the config holds any edit of install's.</summary>
    public static bool IsEdited(string config) => Revert(config) != config;

    /// <summary>The top-level <c>imports</c> entries of a config.</summary>
    public static IReadOnlyList<string> Imports(string config)
    {
        var lines = config.Split('\n').ToList();
        var (start, end) = FindImports(lines);
        return start < 0 ? [] : ImportEntries(string.Join('\n', lines.GetRange(start, end - start + 1)));
    }

    private static string RemoveBlock(string config)
    {
        var lines = config.Split('\n').ToList();
        var begin = lines.IndexOf(BlockBegin);
        if (begin < 0)
        {
            return config;
        }

        var end = lines.IndexOf(BlockEnd, begin);
        if (end < 0)
        {
            throw new FormatException($"the config has \"{BlockBegin}\" without \"{BlockEnd}\"; fix it by hand");
        }

        lines.RemoveRange(begin, end - begin + 1);
        return string.Join('\n', lines);
    }

    private static string RemoveAddedLines(string config) => string.Join('\n', config.Split('\n')
        .Where(l => !l.EndsWith(AddedMarker, StringComparison.Ordinal))
        .Select(l => l.StartsWith(ReplacedPrefix, StringComparison.Ordinal) ? l[ReplacedPrefix.Length..] : l));

    /// <summary>The first and last line of the top-level imports array, or (-1, -1).</summary>
    private static (int Start, int End) FindImports(List<string> lines)
    {
        for (var i = 0; i < lines.Count; i++)
        {
            var trimmed = lines[i].Trim();
            if (trimmed.StartsWith('['))
            {
                break; // past the top level
            }

            if (!ImportsLine().IsMatch(trimmed))
            {
                continue;
            }

            for (var j = i; j < lines.Count; j++)
            {
                if (StripComment(lines[j]).Contains(']', StringComparison.Ordinal))
                {
                    return (i, j);
                }
            }

            throw new FormatException($"line {i + 1}: the imports array never closes");
        }

        return (-1, -1);
    }

    private static List<string> ImportEntries(string array) =>
        [.. TomlString().Matches(string.Join('\n', array.Split('\n').Select(StripComment))).Select(m => m.Groups[1].Success ? Unescape(m.Groups[1].Value) : m.Groups[2].Value)];

    /// <summary>containerd expands imports with filepath.Glob: '*' matches within one path element.</summary>
    private static bool Covers(string entry, string path)
    {
        if (!entry.Contains('*', StringComparison.Ordinal) && !entry.Contains('?', StringComparison.Ordinal))
        {
            return string.Equals(Path.GetFullPath(entry), Path.GetFullPath(path), StringComparison.Ordinal);
        }

        var pattern = "^" + Regex.Escape(entry).Replace(@"\*", "[^/]*", StringComparison.Ordinal).Replace(@"\?", "[^/]", StringComparison.Ordinal) + "$";
        return Regex.IsMatch(path, pattern, RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
    }

    /// <summary>A TOML basic string.</summary>
    public static string Quote(string value)
    {
        if (value.Any(char.IsControl))
        {
            throw new ArgumentException($"a path with control characters cannot go into containerd's config: {value}", nameof(value));
        }

        return "\"" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
    }

    private static string Unescape(string value) => value.Replace("\\\"", "\"", StringComparison.Ordinal).Replace("\\\\", "\\", StringComparison.Ordinal);

    /// <summary>The line without a trailing comment (a '#' outside any string).</summary>
    private static string StripComment(string line)
    {
        var inBasic = false;
        var inLiteral = false;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (inBasic && c == '\\')
            {
                i++;
            }
            else if (c == '"' && !inLiteral)
            {
                inBasic = !inBasic;
            }
            else if (c == '\'' && !inBasic)
            {
                inLiteral = !inLiteral;
            }
            else if (c == '#' && !inBasic && !inLiteral)
            {
                return line[..i];
            }
        }

        return line;
    }

    [GeneratedRegex(@"^version\s*=")]
    private static partial Regex VersionLine();

    [GeneratedRegex(@"^imports\s*=\s*\[")]
    private static partial Regex ImportsLine();

    [GeneratedRegex("\"((?:[^\"\\\\]|\\\\.)*)\"|'([^']*)'")]
    private static partial Regex TomlString();
}

namespace KataSharp.Cli.Commands;

/// <summary>
/// <c>run --env-file</c> in docker's format: one KEY=VALUE a line, taken verbatim after the first '=' (no quotes,
/// no expansion); '#' comments and blank lines are skipped; a bare KEY takes the host's value, or is left out when
/// the host has none.
/// </summary>
internal static class EnvFile
{
    /// <exception cref="UsageException">A line whose name is empty or holds whitespace.</exception>
    public static List<string> Parse(IEnumerable<string> lines, Func<string, string?> hostValue, string source)
    {
        var entries = new List<string>();
        var number = 0;
        foreach (var raw in lines)
        {
            number++;
            var line = raw.TrimStart().TrimEnd('\r');
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var eq = line.IndexOf('=', StringComparison.Ordinal);
            var name = eq < 0 ? line.TrimEnd() : line[..eq];
            if (name.Length == 0 || name.Any(char.IsWhiteSpace))
            {
                throw new UsageException($"run: --env-file {source}:{number}: '{name}' is not a variable name");
            }

            if (eq >= 0)
            {
                entries.Add(line);
            }
            else if (hostValue(name) is { } value)
            {
                entries.Add($"{name}={value}");
            }
        }

        return entries;
    }

    /// <exception cref="UsageException">The file cannot be read, or a line is malformed.</exception>
    public static List<string> Read(string path)
    {
        try
        {
            return Parse(File.ReadLines(path), Environment.GetEnvironmentVariable, path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"run: --env-file {path}: {e.Message}");
        }
    }
}

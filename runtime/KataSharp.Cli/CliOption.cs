namespace KataSharp.Cli;

/// <summary>
/// One option of a command, defined once: how it is spelled, the value it takes, and its help. A command's parser,
/// its <c>--help</c> and the bash completion are all made from these, so none can name an option the others lack.
/// </summary>
/// <param name="Help">What it does; a newline continues the text on the next help line.</param>
/// <param name="ValueName">The value's placeholder in help (FILE, K=V); null for a flag.</param>
internal sealed record CliOption(string Name, string Help, string? ValueName = null, char? ShortName = null)
{
    public bool TakesValue => ValueName is not null;

    /// <summary>Every way to write it, short first (<c>-u</c>, <c>--user</c>).</summary>
    public IEnumerable<string> Spellings => ShortName is { } c ? [$"-{c}", $"--{Name}"] : [$"--{Name}"];

    public static CliOption Flag(string name, string help, char? shortName = null) => new(name, help, null, shortName);

    public static CliOption Value(string name, string valueName, string help, char? shortName = null) => new(name, help, valueName, shortName);

    /// <summary>The option as help shows it on the left: <c>-u, --user U[:G]</c>.</summary>
    public string Synopsis => (ShortName is { } c ? $"-{c}, " : "    ") + $"--{Name}" + (ValueName is null ? "" : " " + ValueName);
}

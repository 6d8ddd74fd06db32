using System.Text;

namespace KataSharp.Cli;

/// <summary>
/// A command's syntax in one place: its options (<see cref="CliOption"/>), arguments and description. It builds the
/// command's <see cref="ArgReader"/>, prints its <c>--help</c>, and the bash completion reads its spellings.
/// </summary>
internal sealed class CommandSyntax
{
    /// <summary>Help's option column is at most this wide; a longer option has its text after two spaces.</summary>
    private const int MaxOptionColumn = 26;

    /// <summary>The options every command accepts after its name, as after <c>katasharp</c>.</summary>
    public static readonly IReadOnlyList<CliOption> CommonOptions =
    [
        CliOption.Value("config", "FILE", "configuration file (default: /etc/katasharp/katasharp.yaml)"),
        CliOption.Flag("verbose", "log progress to stderr"),
    ];

    public static readonly CliOption HelpOption = CliOption.Flag("help", "print this help", 'h');

    /// <summary>The command's name after <c>katasharp</c>; empty for <c>katasharp</c> itself.</summary>
    public required string Name { get; init; }

    /// <summary>One line for the command list of <c>katasharp --help</c>.</summary>
    public required string Summary { get; init; }

    /// <summary>What follows the name in the usage line: <c>[OPTIONS] ID</c>.</summary>
    public string Arguments { get; init; } = "[OPTIONS]";

    public required string Description { get; init; }

    public IReadOnlyList<CliOption> Options { get; init; } = [];

    /// <summary>Whether <see cref="CommonOptions"/> apply (not for install, which reads no configuration).</summary>
    public bool TakesCommonOptions { get; init; } = true;

    /// <summary>See <see cref="ArgReader.StopAtFirstPositional"/>.</summary>
    public bool StopAtFirstPositional { get; init; }

    /// <summary>Printed after the options.</summary>
    public string? Footer { get; init; }

    /// <summary>Every option the command accepts, in help's order: its own, the common ones, --help.</summary>
    public IEnumerable<CliOption> AllOptions => Options.Concat(TakesCommonOptions ? CommonOptions : []).Append(HelpOption);

    public ArgReader Parse(IReadOnlyList<string> args)
    {
        var reader = new ArgReader(Name.Length > 0 ? Name : "katasharp") { StopAtFirstPositional = StopAtFirstPositional };
        foreach (var option in AllOptions)
        {
            reader.Add(option);
        }

        return reader.Parse(args);
    }

    public string Help()
    {
        var help = new StringBuilder();
        help.Append("Usage: katasharp").Append(Name.Length > 0 ? " " + Name : "").Append(Arguments.Length > 0 ? " " + Arguments : "").Append("\n\n");
        help.Append(Description.TrimEnd()).Append("\n\nOptions:\n");
        var options = AllOptions.ToList();
        var column = Math.Min(options.Max(o => o.Synopsis.Length), MaxOptionColumn) + 4;
        foreach (var option in options)
        {
            var left = "  " + option.Synopsis;
            var lines = option.Help.Split('\n');
            help.Append(left).Append(' ', Math.Max(column - left.Length, 2)).Append(lines[0]).Append('\n');
            foreach (var more in lines.Skip(1))
            {
                help.Append(' ', column).Append(more).Append('\n');
            }
        }

        if (Footer is not null)
        {
            help.Append('\n').Append(Footer.TrimEnd()).Append('\n');
        }

        return help.ToString();
    }

    /// <summary>Prints the help when <c>--help</c> was given; true when it was.</summary>
    public bool PrintedHelp(ArgReader reader)
    {
        if (!reader.Has(HelpOption.Name))
        {
            return false;
        }

        System.Console.Write(Help());
        return true;
    }
}

namespace KataSharp.Cli;

/// <summary>
/// A small hand-written option reader (no reflection, so it survives NativeAOT): long options as
/// <c>--name value</c> or <c>--name=value</c>, short flags that may be grouped (<c>-it</c>), and
/// <c>--</c> ending the options. Options may come before or after positional arguments; everything
/// after <c>--</c> (or after the first positional, when <see cref="StopAtFirstPositional"/>) is kept verbatim.
/// </summary>
internal sealed class ArgReader
{
    private readonly string _command;
    private readonly Dictionary<string, OptionKind> _options = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<string>> _values = new(StringComparer.Ordinal);
    private readonly Dictionary<char, string> _shortNames = [];

    public ArgReader(string command) => _command = command;

    /// <summary>For exec/run: everything after the first positional argument that follows the id... is the command.</summary>
    public bool StopAtFirstPositional { get; init; }

    public List<string> Positionals { get; } = [];

    /// <summary>Arguments after <c>--</c>.</summary>
    public List<string> Rest { get; } = [];

    public bool SawDoubleDash { get; private set; }

    private enum OptionKind
    {
        Flag,
        Value,
    }

    /// <summary>Declares an option; see <see cref="CommandSyntax.Parse"/>, the one caller.</summary>
    public ArgReader Add(CliOption option)
    {
        _options[option.Name] = option.TakesValue ? OptionKind.Value : OptionKind.Flag;
        if (option.ShortName is { } c)
        {
            _shortNames[c] = option.Name;
        }

        return this;
    }

    public ArgReader Parse(IReadOnlyList<string> args)
    {
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (arg == "--")
            {
                SawDoubleDash = true;
                Rest.AddRange(args.Skip(i + 1));
                return this;
            }

            if (arg.StartsWith("--", StringComparison.Ordinal))
            {
                var eq = arg.IndexOf('=', StringComparison.Ordinal);
                var name = eq > 0 ? arg[2..eq] : arg[2..];
                if (!_options.TryGetValue(name, out var kind))
                {
                    throw new UsageException($"{_command}: unknown option --{name}");
                }

                if (kind == OptionKind.Flag)
                {
                    if (eq > 0)
                    {
                        throw new UsageException($"{_command}: --{name} takes no value");
                    }

                    Set(name, "true");
                }
                else
                {
                    var value = eq > 0 ? arg[(eq + 1)..] : i + 1 < args.Count ? args[++i] : throw new UsageException($"{_command}: --{name} needs a value");
                    Set(name, value);
                }
            }
            else if (arg.Length > 1 && arg[0] == '-' && !char.IsAsciiDigit(arg[1]))
            {
                for (var j = 1; j < arg.Length; j++)
                {
                    if (!_shortNames.TryGetValue(arg[j], out var name))
                    {
                        throw new UsageException($"{_command}: unknown option -{arg[j]}");
                    }

                    if (_options[name] == OptionKind.Flag)
                    {
                        Set(name, "true");
                        continue;
                    }

                    // -v VALUE or -vVALUE; a value option ends the group.
                    var value = j + 1 < arg.Length ? arg[(j + 1)..] : i + 1 < args.Count ? args[++i] : throw new UsageException($"{_command}: -{arg[j]} needs a value");
                    Set(name, value);
                    break;
                }
            }
            else
            {
                Positionals.Add(arg);
                if (StopAtFirstPositional)
                {
                    Rest.AddRange(args.Skip(i + 1));
                    return this;
                }
            }
        }

        return this;
    }

    private void Set(string name, string value)
    {
        if (!_values.TryGetValue(name, out var list))
        {
            _values[name] = list = [];
        }

        list.Add(value);
    }

    public bool Has(string name) => _values.ContainsKey(Declared(name));

    public string? Get(string name) => _values.TryGetValue(Declared(name), out var list) ? list[^1] : null;

    public IReadOnlyList<string> GetAll(string name) => _values.TryGetValue(Declared(name), out var list) ? list : [];

    /// <summary>A command that reads an option its table lacks is a bug: it would parse nothing and help would not name it.</summary>
    private string Declared(string name) =>
        _options.ContainsKey(name) ? name : throw new InvalidOperationException($"{_command}: option --{name} is read but not declared in its syntax");
}

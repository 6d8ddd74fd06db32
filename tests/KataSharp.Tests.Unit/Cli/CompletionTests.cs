using KataSharp.Cli;
using KataSharp.Cli.Commands;
using Xunit;

namespace KataSharp.Tests.Unit.Cli;

/// <summary>
/// One option table per command: every option in it parses (each spelling, with its value), and appears in the
/// command's --help and in the bash completion; and each command prints the help of its own table.
/// </summary>
public sealed class CompletionTests
{
    public static TheoryData<string> CommandNames => new(Program.Commands.Select(c => c.Name));

    private static CommandSyntax Command(string name) => Assert.Single(Program.Commands, c => c.Name == name);

    private static string CompletionLine(string command) =>
        " " + Assert.Single(CompletionCommand.Bash().Split('\n'), l => l.TrimStart().StartsWith(command + ")", StringComparison.Ordinal))
            .Replace("'", " ", StringComparison.Ordinal) + " ";

    [Theory]
    [MemberData(nameof(CommandNames))]
    public void Every_option_of_the_table_parses_and_is_in_help_and_completion(string name)
    {
        var command = Command(name);
        var help = command.Help();
        var completion = CompletionLine(name);
        foreach (var option in command.AllOptions)
        {
            foreach (var spelling in option.Spellings)
            {
                var reader = command.Parse(option.TakesValue ? [spelling, "v1"] : [spelling]);
                Assert.True(reader.Has(option.Name), $"{name} {spelling}");
                Assert.Equal(option.TakesValue ? "v1" : "true", reader.Get(option.Name));
                Assert.Contains(" " + spelling + " ", completion, StringComparison.Ordinal);
            }

            Assert.Contains(option.Synopsis, help, StringComparison.Ordinal);
            Assert.Contains(option.Help.Split('\n')[0], help, StringComparison.Ordinal);
            if (option.TakesValue)
            {
                Assert.Equal("v2", command.Parse([$"--{option.Name}=v2"]).Get(option.Name));
            }
        }
    }

    [Theory]
    [MemberData(nameof(CommandNames))]
    public async Task Each_command_prints_the_help_of_its_table(string name)
    {
        var original = System.Console.Out;
        using var captured = new StringWriter();
        System.Console.SetOut(captured);
        try
        {
            Assert.Equal(0, await Program.DispatchAsync(new GlobalOptions(null, false), name, ["--help"], CancellationToken.None));
        }
        finally
        {
            System.Console.SetOut(original);
        }

        Assert.Equal(Command(name).Help(), captured.ToString());
    }

    [Fact]
    public void The_top_level_lists_every_command_and_completes_them_and_its_options()
    {
        var help = Program.TopLevel.Help();
        var top = " " + Assert.Single(CompletionCommand.Bash().Split('\n'), l => l.TrimStart().StartsWith("'')", StringComparison.Ordinal)).Replace("'", " ", StringComparison.Ordinal) + " ";
        foreach (var command in Program.Commands)
        {
            Assert.Contains($"  {command.Name} ", help, StringComparison.Ordinal);
            Assert.Contains(" " + command.Name + " ", top, StringComparison.Ordinal);
        }

        foreach (var spelling in Program.TopLevel.AllOptions.SelectMany(o => o.Spellings))
        {
            Assert.Contains(" " + spelling + " ", top, StringComparison.Ordinal);
        }

        Assert.Contains(" --config) ((i++)) ;;", CompletionCommand.Bash(), StringComparison.Ordinal);
    }

    [Fact]
    public void The_run_options_users_look_for_are_completed()
    {
        var run = CompletionLine("run");
        foreach (var option in new[] { "--env-file", "--entrypoint", "--user", "-u", "--image", "--help" })
        {
            Assert.Contains(" " + option + " ", run, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Help_aligns_each_options_text_and_continues_multi_line_text_under_it()
    {
        var help = RunCommand.Syntax.Help().Split('\n');
        var user = Assert.Single(help, l => l.StartsWith("  -u, --user U[:G] ", StringComparison.Ordinal));
        var column = user.IndexOf("run as uid", StringComparison.Ordinal);
        var network = Array.FindIndex(help, l => l.StartsWith("      --network MODE ", StringComparison.Ordinal));
        Assert.Equal(column, help[network].IndexOf("auto (default)", StringComparison.Ordinal));
        Assert.Equal(column, help[network + 1].Length - help[network + 1].TrimStart().Length);
    }

    [Fact]
    public void Global_options_come_before_the_command_and_the_rest_is_the_commands()
    {
        var (global, command, rest) = Program.ParseGlobal(["--config", "/x.yaml", "--verbose", "run", "--name", "a", "--", "sh"]);

        Assert.Equal(new GlobalOptions("/x.yaml", true), global);
        Assert.Equal("run", command);
        Assert.Equal(["--name", "a", "--", "sh"], rest);
        Assert.Equal("version", Program.ParseGlobal(["--version"]).Command);
        Assert.Equal("help", Program.ParseGlobal(["-h"]).Command);
    }

    [Fact]
    public void Reading_an_option_the_table_lacks_is_a_bug_not_a_silent_null()
    {
        var reader = PsCommand.Syntax.Parse([]);

        Assert.Throws<InvalidOperationException>(() => reader.Get("no-such-option"));
    }
}

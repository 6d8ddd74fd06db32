using KataSharp.Cli;
using KataSharp.Cli.Commands;
using Xunit;

namespace KataSharp.Tests.Unit.Cli;

public sealed class CompletionTests
{
    [Fact]
    public async Task Every_command_and_every_option_of_its_help_is_completed()
    {
        var script = await CompletionCommand.BashAsync(CancellationToken.None);
        var lines = script.Split('\n');
        var commands = CompletionCommand.Commands();
        Assert.Contains("run", commands);
        Assert.Contains("completion", commands);
        var top = Assert.Single(lines, l => l.TrimStart().StartsWith("'')", StringComparison.Ordinal));
        foreach (var command in commands)
        {
            Assert.Contains(" " + command + " ", top.Replace("'", " ", StringComparison.Ordinal), StringComparison.Ordinal);
            var help = await CompletionCommand.HelpAsync(command, CancellationToken.None);
            Assert.False(string.IsNullOrWhiteSpace(help), command);
            var line = Assert.Single(lines, l => l.TrimStart().StartsWith(command + ")", StringComparison.Ordinal));
            foreach (var option in help.Split([' ', '\n', ',', '[', ']', '(', '|'], StringSplitOptions.RemoveEmptyEntries).Where(w => w.StartsWith("--", StringComparison.Ordinal) && w.Length > 2))
            {
                var name = option.Split('=')[0].TrimEnd(')', ';', '.', ':');
                Assert.Contains(" " + name + " ", line.Replace("'", " ", StringComparison.Ordinal), StringComparison.Ordinal);
            }
        }

        var run = Assert.Single(lines, l => l.TrimStart().StartsWith("run)", StringComparison.Ordinal));
        foreach (var option in new[] { "--env-file", "--entrypoint", "--user", "-u", "--image", "--help" })
        {
            Assert.Contains(" " + option + " ", run.Replace("'", " ", StringComparison.Ordinal), StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Options_are_words_that_start_with_a_dash()
    {
        Assert.Equal(["--json", "-u", "--user"], CompletionCommand.Options("  --json  read-only os/arch\n  -u, --user U[:G] e.g. 1000"));
    }
}

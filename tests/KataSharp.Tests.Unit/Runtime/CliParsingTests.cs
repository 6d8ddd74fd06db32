using KataSharp.Cli;
using KataSharp.Cli.Commands;
using Xunit;

namespace KataSharp.Tests.Unit.Runtime;

public sealed class CliParsingTests
{
    [Theory]
    [InlineData("512M", 512L << 20)]
    [InlineData("1G", 1L << 30)]
    [InlineData("1.5g", 3L << 29)]
    [InlineData("64k", 64L << 10)]
    [InlineData("256MiB", 256L << 20)]
    [InlineData("4096", 4096L)]
    public void Sizes(string text, long bytes) => Assert.Equal(bytes, ValueParsers.ParseSize(text, "--memory"));

    [Theory]
    [InlineData("30s", 30)]
    [InlineData("5m", 300)]
    [InlineData("1h", 3600)]
    [InlineData("1m30s", 90)]
    [InlineData("45", 45)]
    [InlineData("500ms", 0.5)]
    public void Durations(string text, double seconds) => Assert.Equal(TimeSpan.FromSeconds(seconds), ValueParsers.ParseDuration(text, "--timeout"));

    [Theory]
    [InlineData("0")]
    [InlineData("-1s")]
    [InlineData("5x")]
    [InlineData("abc")]
    public void Bad_durations(string text) => Assert.Throws<UsageException>(() => ValueParsers.ParseDuration(text, "--timeout"));

    [Theory]
    [InlineData("KILL", 9)]
    [InlineData("SIGTERM", 15)]
    [InlineData("sigint", 2)]
    [InlineData("10", 10)]
    public void Signals(string text, int number) => Assert.Equal(number, ValueParsers.ParseSignal(text));

    [Fact]
    public void Options_groups_and_the_command_after_double_dash()
    {
        var reader = new ArgReader("run") { StopAtFirstPositional = true }
            .Value("name").Value("env", 'e').Value("volume", 'v').Flag("tty", 't').Flag("interactive", 'i')
            .Parse(["--name=job", "-it", "-e", "A=1", "--env", "B=2", "-v/a:/b", "--", "sh", "-c", "echo --name"]);
        Assert.Equal("job", reader.Get("name"));
        Assert.True(reader.Has("tty") && reader.Has("interactive"));
        Assert.Equal(["A=1", "B=2"], reader.GetAll("env"));
        Assert.Equal("/a:/b", reader.Get("volume"));
        Assert.Equal(["sh", "-c", "echo --name"], reader.Rest);
        Assert.True(reader.SawDoubleDash);
    }

    [Fact]
    public void The_first_positional_starts_the_command()
    {
        var reader = new ArgReader("run") { StopAtFirstPositional = true }.Flag("tty", 't').Parse(["-t", "ls", "-l", "--tty"]);
        Assert.Equal(["ls"], reader.Positionals);
        Assert.Equal(["-l", "--tty"], reader.Rest);
    }

    [Fact]
    public void Unknown_and_incomplete_options_are_usage_errors()
    {
        Assert.Throws<UsageException>(() => new ArgReader("run").Flag("tty", 't').Parse(["--bogus"]));
        Assert.Throws<UsageException>(() => new ArgReader("run").Flag("tty", 't').Parse(["-x"]));
        Assert.Throws<UsageException>(() => new ArgReader("run").Value("name").Parse(["--name"]));
        Assert.Throws<UsageException>(() => new ArgReader("run").Flag("tty", 't').Parse(["--tty=yes"]));
    }

    [Fact]
    public void Command_line_env_overrides_the_image_env()
    {
        Assert.Equal(["PATH=/x", "A=2", "B=3"], RunCommand.MergeEnv(["PATH=/bin", "A=1"], ["A=2", "PATH=/x", "B=3"]));
    }
}

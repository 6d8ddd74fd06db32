using KataSharp.Cli;
using KataSharp.Cli.Commands;
using KataSharp.Runtime.Images;
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
        var reader = RunCommand.Syntax.Parse(["--name=job", "-it", "-e", "A=1", "--env", "B=2", "-v/a:/b", "--", "sh", "-c", "echo --name"]);
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
        var reader = RunCommand.Syntax.Parse(["-t", "ls", "-l", "--tty"]);
        Assert.Equal(["ls"], reader.Positionals);
        Assert.Equal(["-l", "--tty"], reader.Rest);
    }

    [Fact]
    public void Unknown_and_incomplete_options_are_usage_errors()
    {
        Assert.Throws<UsageException>(() => RunCommand.Syntax.Parse(["--bogus"]));
        Assert.Throws<UsageException>(() => RunCommand.Syntax.Parse(["-x"]));
        Assert.Throws<UsageException>(() => RunCommand.Syntax.Parse(["--name"]));
        Assert.Throws<UsageException>(() => RunCommand.Syntax.Parse(["--tty=yes"]));
    }

    [Fact]
    public void Command_line_env_overrides_the_image_env()
    {
        Assert.Equal(["PATH=/x", "A=2", "B=3"], RunCommand.MergeEnv(["PATH=/bin", "A=1"], ["A=2", "PATH=/x", "B=3"]));
    }

    [Fact]
    public void Env_file_lines_follow_docker()
    {
        string[] lines = ["# a comment", "", "  A=1", "B=two words ", "C=", "D=x=y", "HOSTSET", "HOSTUNSET", "E=\"quoted\"\r"];
        var host = new Dictionary<string, string> { ["HOSTSET"] = "from host" };
        Assert.Equal(["A=1", "B=two words ", "C=", "D=x=y", "HOSTSET=from host", "E=\"quoted\""],
            EnvFile.Parse(lines, name => host.GetValueOrDefault(name), "f"));
    }

    [Theory]
    [InlineData("=value")]
    [InlineData("TWO WORDS")]
    [InlineData("A B=1")]
    public void Env_file_names_must_be_names(string line) =>
        Assert.Contains("f:2", Assert.Throws<UsageException>(() => EnvFile.Parse(["OK=1", line], _ => null, "f")).Message, StringComparison.Ordinal);

    [Fact]
    public void Command_line_env_wins_over_the_env_file()
    {
        var file = Path.Combine(Path.GetTempPath(), $"ks-envfile-{Guid.NewGuid():N}");
        File.WriteAllLines(file, ["A=file", "B=file"]);
        try
        {
            var fromFile = EnvFile.Read(file);
            Assert.Equal(["A=cli", "B=file"], RunCommand.MergeEnv([], [.. fromFile, "A=cli"]));
        }
        finally
        {
            File.Delete(file);
        }

        Assert.Throws<UsageException>(() => EnvFile.Read(file));
    }

    [Fact]
    public void Entrypoint_replaces_the_images_and_takes_the_command_as_arguments()
    {
        var image = new ImageConfig { Entrypoint = ["/entry"], Cmd = ["default"] };
        Assert.Equal(["/entry", "default"], RunCommand.ResolveCommand(null, [], image));
        Assert.Equal(["ls", "-l"], RunCommand.ResolveCommand(null, ["ls", "-l"], image));
        Assert.Equal(["/bin/sh"], RunCommand.ResolveCommand("/bin/sh", [], image));
        Assert.Equal(["/bin/sh", "-c", "id"], RunCommand.ResolveCommand("/bin/sh", ["-c", "id"], image));
        Assert.Equal(["default"], RunCommand.ResolveCommand("", [], image));
        Assert.Throws<UsageException>(() => RunCommand.ResolveCommand("", [], new ImageConfig { Entrypoint = ["/entry"] }));
        Assert.Throws<UsageException>(() => RunCommand.ResolveCommand(null, [], new ImageConfig()));
    }

    [Theory]
    [InlineData("1000")]
    [InlineData("1000:1000")]
    [InlineData("nobody")]
    [InlineData("app:staff")]
    public void User_forms(string user) => Assert.Equal(user, RunCommand.ValidateUser(user));

    [Theory]
    [InlineData("")]
    [InlineData(":1")]
    [InlineData("1:")]
    [InlineData("a:b:c")]
    [InlineData("a b")]
    public void Bad_users_are_usage_errors(string user) => Assert.Throws<UsageException>(() => RunCommand.ValidateUser(user));

    [Fact]
    public void User_names_come_from_the_image_and_unknown_ones_are_refused()
    {
        var rootfs = Path.Combine(Path.GetTempPath(), $"ks-user-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Path.Combine(rootfs, "etc"));
        try
        {
            File.WriteAllText(Path.Combine(rootfs, "etc", "passwd"), "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n");
            File.WriteAllText(Path.Combine(rootfs, "etc", "group"), "root:x:0:\napp:x:1000:\nstaff:x:50:app\n");
            var app = ImageUser.Resolve(rootfs, RunCommand.ValidateUser("app:staff"));
            Assert.Equal((1000u, 50u), (app.Uid, app.Gid));
            Assert.Equal(1234u, ImageUser.Resolve(rootfs, RunCommand.ValidateUser("1234:5")).Uid);
            Assert.Contains("ghost", Assert.Throws<ImageException>(() => ImageUser.Resolve(rootfs, RunCommand.ValidateUser("ghost"))).Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(rootfs, recursive: true);
        }
    }
}

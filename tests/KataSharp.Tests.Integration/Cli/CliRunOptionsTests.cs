using KataSharp.Tests.Integration.Infrastructure;

namespace KataSharp.Tests.Integration.Cli;

/// <summary>katasharp run's docker-style options, seen from inside the guest: --env-file, --entrypoint and -u/--user in one job.</summary>
public sealed class CliRunOptionsTests
{
    [Fact]
    public async Task Env_file_entrypoint_and_user_reach_the_guest()
    {
        var envFile = Path.Combine(TestEnvironment.NewWorkDirectory("envfile"), "job.env");
        await File.WriteAllTextAsync(envFile, "# a comment, then a blank line\n\nFROM_FILE=file value\nBOTH=from-file\n");
        var id = CliAssert.NewId("opts");

        // --entrypoint replaces the image's; COMMAND becomes its arguments, so the shell's own command line shows what ran.
        var result = await KatasharpCli.RunAsync("run", "--name", id, "--network", "none", "--env-file", envFile, "--env", "BOTH=from-cli",
            "--entrypoint", "/bin/sh", "-u", "1000:1001", "--",
            "-c", "echo \"FROM_FILE=$FROM_FILE\"; echo \"BOTH=$BOTH\"; tr '\\0' ' ' < /proc/$$/cmdline | cut -d' ' -f1-2; id -u; id -g");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("FROM_FILE=file value\nBOTH=from-cli\n/bin/sh -c\n1000\n1001\n", result.Stdout);
        CliAssert.NoTraceOf(id);
    }
}

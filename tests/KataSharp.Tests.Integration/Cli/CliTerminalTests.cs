using KataSharp.Tests.Integration.Infrastructure;

namespace KataSharp.Tests.Integration.Cli;

/// <summary>katasharp run -t gives the job a terminal the size of the caller's.</summary>
public sealed class CliTerminalTests
{
    [Fact]
    public async Task Run_with_a_tty_passes_the_terminal_size_through()
    {
        var id = CliAssert.NewId("tty");
        // script(1) runs the command on a fresh pty, sized here with stty; katasharp reads that size and resizes the guest pty.
        var command = $"stty rows 33 cols 111; exec {TestEnvironment.CliPath} run -t --name {id} -- sh -c 'echo size=$(stty size); tty; exit 6'";

        var result = await KatasharpCli.RunProcessAsync("script", ["-qec", command, "/dev/null"], stdin: null);

        Assert.True(result.ExitCode == 6, result.ToString());
        // The guest pty and script's pty each turn \n into \r\n, hence \r+.
        Assert.Matches("size=33 111\r+\n", result.Stdout);
        Assert.Matches("/dev/pts/[0-9]+\r+\n", result.Stdout);
        CliAssert.NoTraceOf(id);
    }
}

using KataSharp.Tests.Integration.Infrastructure;

namespace KataSharp.Tests.Integration.Cli;

/// <summary>katasharp run -i forwards its stdin to the job, byte for byte, and its EOF.</summary>
public sealed class CliStdinTests
{
    [Fact]
    public async Task Run_interactive_forwards_stdin_until_EOF()
    {
        var input = new byte[200 * 1024];
        new Random(42).NextBytes(input);
        var id = CliAssert.NewId("stdin");

        var result = await KatasharpCli.RunAsync(["run", "-i", "--name", id, "--", "cat"], input);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(input.Length, result.StdoutBytes.Length);
        Assert.True(input.AsSpan().SequenceEqual(result.StdoutBytes), "stdout differs from what was piped to stdin");
        CliAssert.NoTraceOf(id);
    }
}

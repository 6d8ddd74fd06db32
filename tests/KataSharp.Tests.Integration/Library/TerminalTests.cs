using Google.Protobuf;
using KataSharp.Tests.Integration.Infrastructure;

namespace KataSharp.Tests.Integration.Library;

/// <summary>A container with a terminal gets a pty whose size follows ResizeTty.</summary>
[Collection(SharedSandboxCollection.Name)]
public sealed class TerminalTests(SharedSandboxFixture fixture)
{
    [Fact]
    public async Task Stty_size_reports_the_size_set_with_ResizeTty()
    {
        // The shell waits for a line before each report, so each report comes after the resize before it.
        await using var container = await fixture.StartAsync("tty",
            ["sh", "-c", "[ -t 0 ] && [ -t 1 ] && echo on-a-tty; read a; echo \"size=$(stty size)\"; read b; echo \"size=$(stty size)\"; exit 0"],
            stdin: true, terminal: true);
        using var timeout = new CancellationTokenSource(TestEnvironment.OperationTimeout);
        var agent = fixture.Sandbox.Agent;

        await container.Output.Stdout.WaitForAsync("on-a-tty");
        await container.Init.ResizeAsync(40, 120, timeout.Token);
        await agent.WriteStdinAsync(container.Id, "", ByteString.CopyFromUtf8("first\n"), timeout.Token);
        // Wait for the whole line: what the test types next is echoed by the pty, and would land mid-line.
        await container.Output.Stdout.WaitForAsync("size=40 120\r\n");

        await container.Init.ResizeAsync(25, 91, timeout.Token);
        await agent.WriteStdinAsync(container.Id, "", ByteString.CopyFromUtf8("second\n"), timeout.Token);
        await container.Output.Stdout.WaitForAsync("size=25 91");

        var exit = await container.WaitAsync();
        Assert.Equal(0, exit.ExitCode);
        var text = container.Output.Stdout.Text;
        // A pty: output lines end in CRLF, and what was typed is echoed back.
        Assert.Contains("size=40 120\r\n", text);
        Assert.Contains("first", text);
    }
}

using KataSharp.Tests.Integration.Infrastructure;

namespace KataSharp.Tests.Integration.Library;

/// <summary>Bytes written to a container's stdin reach it unchanged, and closing stdin is the EOF it sees.</summary>
[Collection(SharedSandboxCollection.Name)]
public sealed class StdinTests(SharedSandboxFixture fixture)
{
    [Fact]
    public async Task Cat_echoes_stdin_byte_for_byte_and_exits_0_at_EOF()
    {
        // Every byte value, NULs and CRs included, and more than one WriteStdin chunk.
        var input = new byte[300 * 1024];
        new Random(7).NextBytes(input);
        for (var i = 0; i < 256; i++)
        {
            input[i] = (byte)i;
        }

        await using var container = await fixture.StartAsync("stdin", ["cat"], stdin: true);
        using var timeout = new CancellationTokenSource(TestEnvironment.OperationTimeout);
        await container.Init.ForwardStdinAsync(new MemoryStream(input), timeout.Token);
        var exit = await container.WaitAsync();
        await container.Output.DrainAsync();

        Assert.Equal(0, exit.ExitCode);
        Assert.Equal(input.Length, container.Output.Stdout.Length);
        Assert.True(input.AsSpan().SequenceEqual(container.Output.Stdout.Bytes), "stdout differs from what was sent to stdin");
    }

    [Fact]
    public async Task A_process_blocked_on_stdin_ends_only_when_stdin_is_closed()
    {
        await using var container = await fixture.StartAsync("stdin-eof", ["sh", "-c", "while read line; do echo \"got $line\"; done; echo eof; exit 5"], stdin: true);
        using var timeout = new CancellationTokenSource(TestEnvironment.OperationTimeout);
        await fixture.Sandbox.Agent.WriteStdinAsync(container.Id, "", Google.Protobuf.ByteString.CopyFromUtf8("one\ntwo\n"), timeout.Token);
        await container.Output.Stdout.WaitForAsync("got two\n");

        Assert.DoesNotContain("eof", container.Output.Stdout.Text);
        await fixture.Sandbox.Agent.CloseStdinAsync(container.Id, "", timeout.Token);
        var exit = await container.WaitAsync();
        await container.Output.DrainAsync();

        Assert.Equal(5, exit.ExitCode);
        Assert.Equal("got one\ngot two\neof\n", container.Output.Stdout.Text);
    }
}

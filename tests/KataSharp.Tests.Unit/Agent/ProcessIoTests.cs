using System.Text;
using KataSharp.Native;
using KataSharp.Agent.Processes;
using KataSharp.Protocol.Agent.V1;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace KataSharp.Tests.Unit.Agent;

/// <summary>Real pipes, with the test writing the child's ends itself (no child process needed).</summary>
public sealed class ProcessIoTests
{
    [Fact]
    public async Task ChildOutputReachesTheBuffersAndEndsAtEof()
    {
        using var io = ProcessIo.CreatePipes(new StdioOptions { Stdout = true, Stderr = true }, "test");
        var (_, stdout, stderr) = io.ChildFds;
        io.StartPumps(NullLogger.Instance);

        FdOps.WriteAll(stdout, "out-1 "u8, "test", CancellationToken.None);
        FdOps.WriteAll(stderr, "err"u8, "test", CancellationToken.None);
        FdOps.WriteAll(stdout, "out-2"u8, "test", CancellationToken.None);
        io.CloseChildEnds();

        Assert.Equal("out-1 out-2", await ReadToEndAsync(io.Stdout));
        Assert.Equal("err", await ReadToEndAsync(io.Stderr));
        await io.OutputFinished.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task UnreadStreamIsDrainedSoTheWriterNeverBlocks()
    {
        using var io = ProcessIo.CreatePipes(new StdioOptions { Stdout = false, Stderr = true }, "test");
        io.StartPumps(NullLogger.Instance);

        // Far more than a pipe (64 KiB) and the output pipe (1 MiB) hold: completes only if drained.
        var megabyte = new byte[1024 * 1024];
        var writer = Task.Run(() =>
        {
            for (var i = 0; i < 4; i++)
            {
                FdOps.WriteAll(io.ChildFds.Stdout, megabyte, "test", CancellationToken.None);
            }
        });

        await writer.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True((await io.Stdout.ReadAsync(100, CancellationToken.None)).EndOfStream);
    }

    [Fact]
    public async Task StdinWritesReachTheChildAndCloseGivesItEof()
    {
        using var io = ProcessIo.CreatePipes(new StdioOptions { Stdin = true }, "test");
        Assert.NotNull(io.Stdin);

        Assert.Equal(5, await io.Stdin.WriteAsync("hello"u8.ToArray(), CancellationToken.None));
        await io.Stdin.CloseAsync(CancellationToken.None);

        var childStdin = io.ChildFds.Stdin;
        var buffer = new byte[16];
        Assert.Equal(5, FdOps.ReadSome(childStdin, buffer, "test"));
        Assert.Equal(0, FdOps.ReadSome(childStdin, buffer, "test"));
        await Assert.ThrowsAsync<InvalidOperationException>(() => io.Stdin.WriteAsync("x"u8.ToArray(), CancellationToken.None));
    }

    [Fact]
    public void WithoutStdinTheChildReadsDevNull()
    {
        using var io = ProcessIo.CreatePipes(new StdioOptions(), "test");

        Assert.Null(io.Stdin);
        Assert.Equal(0, FdOps.ReadSome(io.ChildFds.Stdin, new byte[4], "test"));
    }

    private static async Task<string> ReadToEndAsync(IProcessOutput output)
    {
        var text = new StringBuilder();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        while (await output.ReadAsync(4, timeout.Token) is { EndOfStream: false } chunk)
        {
            text.Append(Encoding.UTF8.GetString(KernelPipeOutputTests.Take(chunk)));
        }

        return text.ToString();
    }
}

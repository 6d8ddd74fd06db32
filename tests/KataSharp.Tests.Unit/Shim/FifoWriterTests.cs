using System.Diagnostics;
using System.Text;
using KataSharp.Native;
using KataSharp.Shim.TaskService;

namespace KataSharp.Tests.Unit.Shim;

/// <summary>
/// The shim's end of an output FIFO hands containerd the whole stream and its end, even when containerd's reader
/// (opened in the background) arrives after the process's output has ended.
/// </summary>
public sealed class FifoWriterTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ks-fifo-").FullName;

    [Fact]
    public async Task AWriterClosedBeforeItsReaderOpenedWaitsForIt_AndTheReaderGetsTheOutputAndTheEnd()
    {
        var fifo = await MakeFifoAsync();
        var writer = FifoWriter.Open(fifo, CancellationToken.None);
        writer.Write("cycle-25\n"u8);

        var closing = Task.Run(writer.Dispose);
        await Task.WhenAny(closing, Task.Delay(500));
        Assert.False(closing.IsCompleted, "the writer closed with nobody reading: a reader opening now would wait for a writer for good");

        // containerd's blocking open(O_RDONLY), late: it finds the writer still there, reads the output, then EOF.
        var read = Task.Run(() => File.ReadAllText(fifo));
        Assert.Equal("cycle-25\n", await read.WaitAsync(TimeSpan.FromSeconds(30)));
        await closing.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task AWriterWhoseReaderIsThereClosesAtOnce_AndTheReaderSeesTheEnd()
    {
        var fifo = await MakeFifoAsync();
        using var reader = FdOps.Open(fifo, Linux.O_RDONLY | Linux.O_NONBLOCK);
        var writer = FifoWriter.Open(fifo, CancellationToken.None);
        writer.Write("hello"u8);

        await Task.Run(writer.Dispose).WaitAsync(TimeSpan.FromSeconds(30));

        var buffer = new byte[64];
        var n = FdOps.ReadSome(reader.Value, buffer, "fifo");
        Assert.Equal("hello", Encoding.ASCII.GetString(buffer, 0, n));
        Assert.Equal(0, FdOps.ReadSome(reader.Value, buffer, "fifo"));
    }

    [Fact]
    public async Task AStoppedWriterDoesNotWaitForAReader()
    {
        var fifo = await MakeFifoAsync();
        using var stop = new CancellationTokenSource();
        var writer = FifoWriter.Open(fifo, stop.Token);
        await stop.CancelAsync();

        await Task.Run(writer.Dispose).WaitAsync(TimeSpan.FromSeconds(30));

        // No writer is left: a reader opening now reads EOF at once instead of EAGAIN.
        using var reader = FdOps.Open(fifo, Linux.O_RDONLY | Linux.O_NONBLOCK);
        Assert.Equal(0, FdOps.ReadSome(reader.Value, new byte[8], "fifo"));
    }

    private async Task<string> MakeFifoAsync()
    {
        var fifo = Path.Combine(_dir, "stdout");
        using var mkfifo = Process.Start("mkfifo", ["-m", "0600", fifo]);
        await mkfifo.WaitForExitAsync();
        Assert.Equal(0, mkfifo.ExitCode);
        return fifo;
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}

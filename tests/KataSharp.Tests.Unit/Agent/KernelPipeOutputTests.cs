using System.Buffers;
using System.Net.Sockets;
using KataSharp.Agent.Channels;
using KataSharp.Agent.Processes;
using KataSharp.Native;
using KataSharp.Tests.Unit.Protocol;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace KataSharp.Tests.Unit.Agent;

/// <summary>A real pipe: the test writes the process's end itself.</summary>
public sealed class KernelPipeOutputTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private readonly OwnedFd _writeEnd;
    private readonly KernelPipeOutput _output;

    public KernelPipeOutputTests()
    {
        var (read, write) = FdOps.CreatePipe();
        _writeEnd = write;
        _output = new KernelPipeOutput(read, "test");
        _output.Start(NullLogger.Instance);
    }

    public void Dispose()
    {
        _output.Abandon();
        _writeEnd.Dispose();
    }

    /// <summary>A chunk's bytes, read out of the pipe if they are still there, and the pipe given back.</summary>
    internal static byte[] Take(OutputChunk chunk)
    {
        if (chunk.Piped is not { } piped)
        {
            return chunk.Data;
        }

        using (piped)
        {
            var output = new ArrayBufferWriter<byte>();
            piped.CopyTo(output);
            return output.WrittenSpan.ToArray();
        }
    }

    [Fact]
    public async Task BytesStayInThePipeUntilTheirHolderWritesThem()
    {
        FdOps.WriteAll(_writeEnd.Value, "hello world"u8, "test", CancellationToken.None);

        var chunk = await _output.ReadAsync(5, CancellationToken.None).WaitAsync(Patience);

        Assert.NotNull(chunk.Piped);
        Assert.Equal(5, chunk.Length);
        Assert.Equal(11, FdOps.BytesReadable(_output.Fd));
        var next = _output.ReadAsync(100, CancellationToken.None);
        Assert.False(next.IsCompleted);
        Assert.Equal("hello"u8.ToArray(), Take(chunk));
        Assert.Equal(" world"u8.ToArray(), Take(await next.WaitAsync(Patience)));
    }

    [Fact]
    public async Task BytesGivenBackUnwrittenComeWithTheNextRead()
    {
        FdOps.WriteAll(_writeEnd.Value, "kept"u8, "test", CancellationToken.None);

        (await _output.ReadAsync(100, CancellationToken.None).WaitAsync(Patience)).Piped!.Dispose();

        Assert.Equal("kept"u8.ToArray(), Take(await _output.ReadAsync(100, CancellationToken.None).WaitAsync(Patience)));
    }

    [Fact]
    public async Task ReadWaitsForBytesAndTheEndComesOnlyAfterTheLastByte()
    {
        var read = _output.ReadAsync(100, CancellationToken.None);
        Assert.False(read.IsCompleted);

        FdOps.WriteAll(_writeEnd.Value, "late"u8, "test", CancellationToken.None);
        _writeEnd.Dispose();

        Assert.Equal("late"u8.ToArray(), Take(await read.WaitAsync(Patience)));
        Assert.True((await _output.ReadAsync(100, CancellationToken.None).WaitAsync(Patience)).EndOfStream);
        await _output.Finished.WaitAsync(Patience);
    }

    [Fact]
    public async Task CancelledReadLeavesTheStreamWhole()
    {
        using (var cancel = new CancellationTokenSource())
        {
            var waiting = _output.ReadAsync(100, cancel.Token);
            cancel.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.WaitAsync(Patience));
        }

        var read = _output.ReadAsync(100, CancellationToken.None);
        FdOps.WriteAll(_writeEnd.Value, "after"u8, "test", CancellationToken.None);
        Assert.Equal("after"u8.ToArray(), Take(await read.WaitAsync(Patience)));
    }

    [Fact]
    public async Task ManyMegabytesArriveIntactInOrder()
    {
        var data = new byte[5 * 1024 * 1024 + 123];
        Random.Shared.NextBytes(data);
        var writer = Task.Run(() =>
        {
            FdOps.WriteAll(_writeEnd.Value, data, "test", CancellationToken.None);
            _writeEnd.Dispose();
        });

        var received = new MemoryStream();
        while (await _output.ReadAsync(256 * 1024, CancellationToken.None).WaitAsync(Patience) is { EndOfStream: false } chunk)
        {
            Assert.InRange(chunk.Length, 1, 256 * 1024);
            received.Write(Take(chunk));
        }

        await writer.WaitAsync(Patience);
        Assert.Equal(data, received.ToArray());
    }

    [Fact]
    public async Task AbandonEndsAWaitingReaderAndTheWriterGetsEpipe()
    {
        var waiting = _output.ReadAsync(100, CancellationToken.None);

        _output.Abandon();

        Assert.True((await waiting.WaitAsync(Patience)).EndOfStream);
        await _output.Finished.WaitAsync(Patience);
        var broken = Assert.Throws<ErrnoException>(() => FdOps.WriteAll(_writeEnd.Value, "x"u8, "test", CancellationToken.None));
        Assert.Equal(Linux.EPIPE, broken.Errno);
        Assert.True((await _output.ReadAsync(100, CancellationToken.None).WaitAsync(Patience)).EndOfStream);
    }

    [Fact]
    public async Task AbandonWaitsForBytesStillHeldBeforeClosingThePipe()
    {
        FdOps.WriteAll(_writeEnd.Value, "held"u8, "test", CancellationToken.None);
        var chunk = await _output.ReadAsync(100, CancellationToken.None).WaitAsync(Patience);

        _output.Abandon();

        Assert.False(_output.Finished.IsCompleted);
        Assert.Equal("held"u8.ToArray(), Take(chunk));
        await _output.Finished.WaitAsync(Patience);
    }

    [Fact]
    public async Task PortSplicesExactlyTheBytesHandedOutAndLeavesTheRest()
    {
        FdOps.WriteAll(_writeEnd.Value, "spliced and the rest"u8, "test", CancellationToken.None);
        var (far, near) = await UnixSocketPair.ConnectAsync();
        using (far)
        {
            // The port's stream works on any fd; a socket stands in for the virtio-serial device.
            using (var port = new SerialPortStream(FdOps.Duplicate((int)near.Handle), "test"))
            {
                near.Dispose();
                var chunk = await _output.ReadAsync(7, CancellationToken.None).WaitAsync(Patience);
                Assert.True(chunk.Piped!.CanMoveTo(port));

                port.Write("head:"u8);
                chunk.Piped.MoveTo(port);
                port.Write(":tail"u8);
                chunk.Piped.Dispose();

                Assert.Equal("head:spliced:tail", await ReceiveAsync(far, 17));
                Assert.Equal(" and the rest"u8.ToArray(), Take(await _output.ReadAsync(100, CancellationToken.None).WaitAsync(Patience)));
            }
        }
    }

    [Fact]
    public async Task PortSplicesMegabytesWhileTheProcessGoesOnWriting()
    {
        var data = new byte[4 * 1024 * 1024];
        Random.Shared.NextBytes(data);
        var (far, near) = await UnixSocketPair.ConnectAsync();
        using (far)
        using (var port = new SerialPortStream(FdOps.Duplicate((int)near.Handle), "test"))
        {
            near.Dispose();
            var writer = Task.Run(() =>
            {
                FdOps.WriteAll(_writeEnd.Value, data, "test", CancellationToken.None);
                _writeEnd.Dispose();
            });
            var received = new MemoryStream();
            var reader = Task.Run(() =>
            {
                var buffer = new byte[256 * 1024];
                while (received.Length < data.Length && far.Receive(buffer) is > 0 and var n)
                {
                    received.Write(buffer, 0, n);
                }
            });

            while (await _output.ReadAsync(300_000, CancellationToken.None).WaitAsync(Patience) is { EndOfStream: false } chunk)
            {
                using (chunk.Piped)
                {
                    chunk.Piped!.MoveTo(port);
                }
            }

            await writer.WaitAsync(Patience);
            await reader.WaitAsync(Patience);
            Assert.Equal(data, received.ToArray());
        }
    }

    private static async Task<string> ReceiveAsync(Socket socket, int count)
    {
        var buffer = new byte[count];
        var got = 0;
        while (got < count)
        {
            got += await socket.ReceiveAsync(buffer.AsMemory(got)).AsTask().WaitAsync(Patience);
        }

        return System.Text.Encoding.ASCII.GetString(buffer);
    }
}

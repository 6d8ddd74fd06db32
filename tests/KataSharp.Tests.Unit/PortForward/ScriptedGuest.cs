using System.Net;
using System.Threading.Channels;
using KataSharp.Protocol.Errors;
using KataSharp.Shim.PortForward;

namespace KataSharp.Tests.Unit.PortForward;

/// <summary>
/// A guest loopback in memory: what the bridge writes is collected, what the test queues is read back, and
/// completing the queue is the guest server's EOF. Counts the calls the bridge makes and how many overlap.
/// </summary>
internal sealed class ScriptedGuest : IGuestLoopback
{
    private readonly Channel<ReadOnlyMemory<byte>> _toHost = Channel.CreateUnbounded<ReadOnlyMemory<byte>>();
    private readonly object _lock = new();
    private readonly List<byte> _fromHost = [];
    private int _writesInFlight;

    public KataSharpException? Refuse { get; init; }

    /// <summary>When set, each write waits for the test to let it through (a server that does not read).</summary>
    public SemaphoreSlim? WriteGate { get; init; }

    public IPEndPoint? OpenedTo { get; private set; }

    public int Opens { get; private set; }

    public int Closes { get; private set; }

    public int MaxWritesInFlight { get; private set; }

    public int LargestWrite { get; private set; }

    public int WriteCalls { get; private set; }

    public TaskCompletionSource HostEof { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TaskCompletionSource Closed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public byte[] FromHost
    {
        get
        {
            lock (_lock)
            {
                return [.. _fromHost];
            }
        }
    }

    public void Send(ReadOnlyMemory<byte> data) => _toHost.Writer.TryWrite(data);

    public void EndOfStream() => _toHost.Writer.TryComplete();

    public Task<ulong> OpenAsync(IPEndPoint target, CancellationToken cancellationToken)
    {
        if (Refuse is not null)
        {
            throw Refuse;
        }

        OpenedTo = target;
        Opens++;
        return Task.FromResult(7UL);
    }

    public async Task<ReadOnlyMemory<byte>> ReadAsync(ulong connectionId, int maxBytes, CancellationToken cancellationToken)
    {
        Assert.Equal(7UL, connectionId);
        return await _toHost.Reader.WaitToReadAsync(cancellationToken) && _toHost.Reader.TryRead(out var data) ? data : ReadOnlyMemory<byte>.Empty;
    }

    public async Task WriteAsync(ulong connectionId, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            WriteCalls++;
            MaxWritesInFlight = Math.Max(MaxWritesInFlight, ++_writesInFlight);
            LargestWrite = Math.Max(LargestWrite, data.Length);
        }

        try
        {
            if (WriteGate is not null)
            {
                await WriteGate.WaitAsync(cancellationToken);
            }

            lock (_lock)
            {
                _fromHost.AddRange(data.ToArray());
            }
        }
        finally
        {
            lock (_lock)
            {
                _writesInFlight--;
            }
        }
    }

    public Task ShutdownWriteAsync(ulong connectionId, CancellationToken cancellationToken)
    {
        HostEof.TrySetResult();
        return Task.CompletedTask;
    }

    public Task CloseAsync(ulong connectionId, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            Closes++;
        }

        Closed.TrySetResult();
        return Task.CompletedTask;
    }
}

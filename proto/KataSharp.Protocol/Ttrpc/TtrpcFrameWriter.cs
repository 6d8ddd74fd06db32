using System.Buffers;
using System.IO.Pipelines;
using Grpc.Core;

namespace KataSharp.Protocol.Ttrpc;

/// <summary>Writes whole frames, one at a time: concurrent callers never interleave their bytes.</summary>
public sealed class TtrpcFrameWriter : IAsyncDisposable
{
    private readonly PipeWriter _writer;
    private readonly SemaphoreSlim _lock = new(1, 1);
    private bool _completed;

    public TtrpcFrameWriter(PipeWriter writer) => _writer = writer;

    /// <exception cref="RpcException">ResourceExhausted when the payload is over the cap.</exception>
    public async ValueTask WriteAsync(uint streamId, TtrpcMessageType type, byte flags, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        if (payload.Length > TtrpcFrameHeader.MaxPayload)
        {
            throw new RpcException(new Status(StatusCode.ResourceExhausted,
                $"ttrpc message of {payload.Length} bytes exceeds the {TtrpcFrameHeader.MaxPayload}-byte limit"));
        }

        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_completed)
            {
                throw new IOException("ttrpc connection is closed");
            }

            var header = new TtrpcFrameHeader((uint)payload.Length, streamId, type, flags);
            header.Write(_writer.GetSpan(TtrpcFrameHeader.Size));
            _writer.Advance(TtrpcFrameHeader.Size);
            _writer.Write(payload.Span);
            // The flush must not be abandoned half-way: a torn frame would desynchronise the peer.
            var result = await _writer.FlushAsync(CancellationToken.None).ConfigureAwait(false);
            if (result.IsCompleted)
            {
                _completed = true;
            }
        }
        finally
        {
            _lock.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _lock.WaitAsync().ConfigureAwait(false);
        try
        {
            _completed = true;
            await _writer.CompleteAsync().ConfigureAwait(false);
        }
        finally
        {
            _lock.Release();
        }
    }
}

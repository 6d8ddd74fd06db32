using System.Buffers;
using System.IO.Pipelines;
using Google.Protobuf;
using Grpc.Core;

namespace KataSharp.Protocol.Ttrpc;

/// <summary>
/// Writes whole frames, one at a time: concurrent callers never interleave their bytes. Header and payload
/// go straight into the pipe's buffer; a message is serialised there, never into a temporary array.
/// </summary>
public sealed class TtrpcFrameWriter : IAsyncDisposable
{
    private readonly PipeWriter _writer;
    private readonly SemaphoreSlim _lock = new(1, 1);
    private bool _completed;

    public TtrpcFrameWriter(PipeWriter writer) => _writer = writer;

    /// <exception cref="RpcException">ResourceExhausted when the payload is over the cap.</exception>
    public ValueTask WriteAsync(uint streamId, TtrpcMessageType type, byte flags, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken) =>
        WriteFrameAsync(Header(payload.Length, streamId, type, flags), payload, static (output, bytes) => output.Write(bytes.Span), cancellationToken);

    /// <summary>Writes <paramref name="message"/> as the frame's payload, serialised directly into the pipe.</summary>
    /// <exception cref="RpcException">ResourceExhausted when the encoded message is over the cap.</exception>
    public ValueTask WriteAsync(uint streamId, TtrpcMessageType type, byte flags, IMessage message, CancellationToken cancellationToken) =>
        WriteFrameAsync(Header(message.CalculateSize(), streamId, type, flags), message, static (output, m) => m.WriteTo(output), cancellationToken);

    private static TtrpcFrameHeader Header(int length, uint streamId, TtrpcMessageType type, byte flags)
    {
        if (length > TtrpcFrameHeader.MaxPayload)
        {
            throw new RpcException(new Status(StatusCode.ResourceExhausted,
                $"ttrpc message of {length} bytes exceeds the {TtrpcFrameHeader.MaxPayload}-byte limit"));
        }

        return new TtrpcFrameHeader((uint)length, streamId, type, flags);
    }

    private async ValueTask WriteFrameAsync<TPayload>(TtrpcFrameHeader header, TPayload payload,
        Action<IBufferWriter<byte>, TPayload> writePayload, CancellationToken cancellationToken)
    {
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_completed)
            {
                throw new IOException("ttrpc connection is closed");
            }

            header.Write(_writer.GetSpan(TtrpcFrameHeader.Size));
            _writer.Advance(TtrpcFrameHeader.Size);
            writePayload(_writer, payload);
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

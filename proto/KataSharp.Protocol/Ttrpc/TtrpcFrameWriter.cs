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
    private readonly CancellationToken _abort;
    private readonly SemaphoreSlim _lock = new(1, 1);
    private bool _completed;

    /// <param name="abort">
    /// Fires when the connection is torn down: a flush still blocked then (a peer that stopped reading) is
    /// abandoned, and what was not sent is dropped. Until then no flush is ever abandoned half-way.
    /// </param>
    public TtrpcFrameWriter(PipeWriter writer, CancellationToken abort = default)
    {
        _writer = writer;
        _abort = abort;
    }

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
            // The flush must not be abandoned half-way (a torn frame would desynchronise the peer) unless the
            // connection is going anyway; otherwise it holds the lock, and teardown with it, for ever.
            FlushResult result;
            try
            {
                result = await _writer.FlushAsync(_abort).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_abort.IsCancellationRequested)
            {
                result = new FlushResult(isCanceled: true, isCompleted: false);
            }

            if (result.IsCanceled)
            {
                _completed = true;
                throw new IOException("ttrpc connection closed with a response the peer did not read");
            }

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
            // Completing with an error drops unsent bytes instead of flushing them to a peer that does not read.
            await _writer.CompleteAsync(_abort.IsCancellationRequested ? new OperationCanceledException(_abort) : null).ConfigureAwait(false);
        }
        finally
        {
            _lock.Release();
        }
    }
}

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
    /// <summary>
    /// The least each of the pipe's segments holds; every segment reaches the transport as one write. Over
    /// virtio-serial every write is a buffer the guest kicks to QEMU (a VM exit, dear under TCG) and the guest
    /// driver takes at most 32 KiB a write, so the pipe's default 4 KiB segments made a 1 MiB answer 257 kicks.
    /// </summary>
    public const int SegmentBytes = 64 * 1024;

    private readonly PipeWriter _writer;
    private readonly Stream? _transport;
    private readonly CancellationToken _abort;
    private readonly SemaphoreSlim _lock = new(1, 1);
    private bool _completed;

    /// <param name="abort">
    /// Fires when the connection is torn down: a flush still blocked then (a peer that stopped reading) is
    /// abandoned, and what was not sent is dropped. Until then no flush is ever abandoned half-way.
    /// </param>
    /// <param name="transport">
    /// What <paramref name="writer"/> writes to, if trailing bytes may be moved onto it directly
    /// (<see cref="ITtrpcBytesSource.MoveTo"/>); without it they are copied into the pipe.
    /// </param>
    public TtrpcFrameWriter(PipeWriter writer, CancellationToken abort = default, Stream? transport = null)
    {
        _writer = writer;
        _abort = abort;
        _transport = transport;
    }

    /// <summary>A frame writer over <paramref name="stream"/> (left open), writing it in <see cref="SegmentBytes"/> pieces.</summary>
    public static TtrpcFrameWriter Over(Stream stream, CancellationToken abort = default) =>
        new(PipeWriter.Create(stream, new StreamPipeWriterOptions(minimumBufferSize: SegmentBytes, leaveOpen: true)), abort, stream);

    /// <exception cref="RpcException">ResourceExhausted when the payload is over the cap.</exception>
    public ValueTask WriteAsync(uint streamId, TtrpcMessageType type, byte flags, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken) =>
        WriteFrameAsync(Header(payload.Length, streamId, type, flags), payload, static (output, bytes) => output.Write(bytes.Span), null, cancellationToken);

    /// <summary>Writes <paramref name="message"/> as the frame's payload, serialised directly into the pipe.</summary>
    /// <exception cref="RpcException">ResourceExhausted when the encoded message is over the cap.</exception>
    public ValueTask WriteAsync(uint streamId, TtrpcMessageType type, byte flags, IMessage message, CancellationToken cancellationToken) =>
        WriteFrameAsync(Header(message.CalculateSize(), streamId, type, flags), message, static (output, m) => m.WriteTo(output), null, cancellationToken);

    /// <summary>
    /// Writes a payload of <paramref name="length"/> bytes that <paramref name="write"/> encodes straight into the pipe,
    /// all but the last <paramref name="trailing"/> bytes, which the writer then moves or copies from their source.
    /// A writer that writes any other number of bytes would tear the stream: the connection is then closed.
    /// </summary>
    /// <exception cref="RpcException">ResourceExhausted when the payload is over the cap.</exception>
    public ValueTask WriteAsync<TState>(uint streamId, TtrpcMessageType type, byte flags, int length, TState state, Action<IBufferWriter<byte>, TState> write,
        CancellationToken cancellationToken, ITtrpcBytesSource? trailing = null) =>
        WriteFrameAsync(Header(length, streamId, type, flags), (length: length - (trailing?.Length ?? 0), state, write), static (output, p) =>
            WriteCounted(output, p.length, p.state, p.write), trailing, cancellationToken);

    private static void WriteCounted<TState>(IBufferWriter<byte> output, int length, TState state, Action<IBufferWriter<byte>, TState> write)
    {
        var before = output is PipeWriter { CanGetUnflushedBytes: true } pipe ? pipe.UnflushedBytes : -1;
        write(output, state);
        if (before >= 0 && ((PipeWriter)output).UnflushedBytes - before != length)
        {
            throw new TornFrameException($"a payload announced as {length} bytes wrote {((PipeWriter)output).UnflushedBytes - before}");
        }
    }

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
        Action<IBufferWriter<byte>, TPayload> writePayload, ITtrpcBytesSource? trailing, CancellationToken cancellationToken)
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
            var moveTrailing = trailing is not null && _transport is not null && trailing.CanMoveTo(_transport);
            try
            {
                writePayload(_writer, payload);
                if (trailing is not null && !moveTrailing)
                {
                    WriteCounted(_writer, trailing.Length, trailing, static (output, source) => source.CopyTo(output));
                }
            }
            catch (Exception e) when (e is TornFrameException || trailing is not null)
            {
                // What is buffered cannot be taken back, and sent it would desynchronise the peer.
                await TearAsync().ConfigureAwait(false);
                throw new IOException($"ttrpc connection closed: a response did not match its announced length ({e.Message})", e);
            }

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
                if (moveTrailing)
                {
                    throw new IOException("ttrpc connection is closed");
                }
            }

            if (moveTrailing)
            {
                try
                {
                    // Everything before the trailing bytes has reached the transport; they follow it there.
                    trailing!.MoveTo(_transport!);
                }
                catch (Exception e)
                {
                    await TearAsync().ConfigureAwait(false);
                    throw new IOException($"ttrpc connection closed: a response's trailing bytes were not all written ({e.Message})", e);
                }
            }
        }
        finally
        {
            _lock.Release();
        }
    }

    private async ValueTask TearAsync()
    {
        _completed = true;
        await _writer.CompleteAsync(new IOException("ttrpc frame torn")).ConfigureAwait(false);
    }

    private sealed class TornFrameException(string message) : Exception(message);

    public async ValueTask DisposeAsync()
    {
        await _lock.WaitAsync().ConfigureAwait(false);
        try
        {
            _completed = true;
            // Completing with an error drops unsent bytes instead of flushing them to a peer that does not read.
            await _writer.CompleteAsync(_abort.IsCancellationRequested ? new OperationCanceledException(_abort) : null).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException)
        {
            // Completing flushes what is left, and a peer that is gone (a VM killed under its shim) breaks that
            // flush; the connection is over either way, and disposal must not fail the teardown above it.
        }
        finally
        {
            _lock.Release();
        }
    }
}

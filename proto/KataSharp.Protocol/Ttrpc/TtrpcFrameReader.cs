using System.Buffers;
using System.IO.Pipelines;
using Google.Protobuf;

namespace KataSharp.Protocol.Ttrpc;

/// <summary>
/// Cuts a byte stream into ttrpc frames. Handles frames split across reads and several frames
/// in one read; a frame over the 4 MiB cap is skipped without buffering it and reported as oversized,
/// so that the peer can be answered with ResourceExhausted and the connection stays usable.
/// </summary>
public sealed class TtrpcFrameReader
{
    /// <summary>What one read from the transport asks for: a big answer arrives in a few reads, not in 4 KiB ones.</summary>
    public const int ReadBytes = 64 * 1024;

    private readonly PipeReader _reader;
    private readonly int _maxPayload;
    private long _skipRemaining;

    public TtrpcFrameReader(PipeReader reader, int maxPayload = TtrpcFrameHeader.MaxPayload)
    {
        _reader = reader;
        _maxPayload = maxPayload;
    }

    /// <summary>A frame reader over <paramref name="stream"/> (left open), reading it <see cref="ReadBytes"/> at a time.</summary>
    public static TtrpcFrameReader Over(Stream stream) =>
        new(PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: ReadBytes, leaveOpen: true)));

    /// <summary>Returns the next frame with its payload copied out, or null at a clean end of stream.</summary>
    /// <exception cref="EndOfStreamException">The stream ended in the middle of a frame.</exception>
    public ValueTask<TtrpcFrame?> ReadAsync(CancellationToken cancellationToken) =>
        ReadFrameAsync(0, static (_, header, payload, oversized) => new TtrpcFrame(header, oversized ? [] : payload.ToArray(), oversized), cancellationToken);

    /// <summary>
    /// Returns the next frame, parsing frames of <paramref name="type"/> with <paramref name="parser"/> directly
    /// from the pipe's buffer (no intermediate array), or null at a clean end of stream.
    /// </summary>
    /// <exception cref="EndOfStreamException">The stream ended in the middle of a frame.</exception>
    public ValueTask<TtrpcFrame<T>?> ReadAsync<T>(TtrpcMessageType type, MessageParser<T> parser, CancellationToken cancellationToken)
        where T : class, IMessage<T> =>
        ReadFrameAsync((type, parser), static (state, header, payload, oversized) =>
        {
            if (oversized || header.Type != state.type)
            {
                return new TtrpcFrame<T>(header, null, oversized);
            }

            try
            {
                return new TtrpcFrame<T>(header, state.parser.ParseFrom(payload));
            }
            catch (InvalidProtocolBufferException e)
            {
                return new TtrpcFrame<T>(header, null, malformed: e.Message);
            }
        }, cancellationToken);

    /// <summary>
    /// The read loop shared by both forms: <paramref name="materialize"/> runs while the payload is still
    /// in the pipe's buffer, which is released right after it returns.
    /// </summary>
    private async ValueTask<TFrame?> ReadFrameAsync<TState, TFrame>(TState state,
        Func<TState, TtrpcFrameHeader, ReadOnlySequence<byte>, bool, TFrame> materialize, CancellationToken cancellationToken)
        where TFrame : class
    {
        while (true)
        {
            var result = await _reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (TryCut(ref buffer, out var header, out var payload, out var oversized))
            {
                TFrame frame;
                try
                {
                    frame = materialize(state, header, payload, oversized);
                }
                finally
                {
                    _reader.AdvanceTo(buffer.Start);
                }

                return frame;
            }

            if (result.IsCompleted || result.IsCanceled)
            {
                var leftover = buffer.Length;
                _reader.AdvanceTo(buffer.End);
                if (leftover == 0 && _skipRemaining == 0)
                {
                    return null;
                }

                throw new EndOfStreamException("ttrpc stream ended in the middle of a frame");
            }

            _reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    private bool TryCut(ref ReadOnlySequence<byte> buffer, out TtrpcFrameHeader header, out ReadOnlySequence<byte> payload, out bool oversized)
    {
        header = default;
        payload = default;
        oversized = false;
        if (_skipRemaining > 0)
        {
            var skip = Math.Min(_skipRemaining, buffer.Length);
            buffer = buffer.Slice(skip);
            _skipRemaining -= skip;
            if (_skipRemaining > 0)
            {
                return false;
            }
        }

        if (buffer.Length < TtrpcFrameHeader.Size)
        {
            return false;
        }

        header = TtrpcFrameHeader.Read(buffer);
        if (header.Length > _maxPayload)
        {
            buffer = buffer.Slice(TtrpcFrameHeader.Size);
            var skip = Math.Min(header.Length, buffer.Length);
            buffer = buffer.Slice(skip);
            _skipRemaining = header.Length - skip;
            oversized = true;
            return true;
        }

        if (buffer.Length < TtrpcFrameHeader.Size + header.Length)
        {
            return false;
        }

        payload = buffer.Slice(TtrpcFrameHeader.Size, header.Length);
        buffer = buffer.Slice(TtrpcFrameHeader.Size + header.Length);
        return true;
    }
}

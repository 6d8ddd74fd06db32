using System.Buffers;
using System.IO.Pipelines;

namespace KataSharp.Protocol.Ttrpc;

/// <summary>
/// Cuts a byte stream into ttrpc frames. Handles frames split across reads and several frames
/// in one read; a frame over the 4 MiB cap is skipped without buffering it and reported as oversized,
/// so that the peer can be answered with ResourceExhausted and the connection stays usable.
/// </summary>
public sealed class TtrpcFrameReader
{
    private readonly PipeReader _reader;
    private readonly int _maxPayload;
    private long _skipRemaining;

    public TtrpcFrameReader(PipeReader reader, int maxPayload = TtrpcFrameHeader.MaxPayload)
    {
        _reader = reader;
        _maxPayload = maxPayload;
    }

    /// <summary>Returns the next frame, or null at a clean end of stream.</summary>
    /// <exception cref="EndOfStreamException">The stream ended in the middle of a frame.</exception>
    public async ValueTask<TtrpcFrame?> ReadAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await _reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (TryParse(ref buffer, out var frame))
            {
                _reader.AdvanceTo(buffer.Start);
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

    private bool TryParse(ref ReadOnlySequence<byte> buffer, out TtrpcFrame? frame)
    {
        frame = null;
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

        Span<byte> headerBytes = stackalloc byte[TtrpcFrameHeader.Size];
        buffer.Slice(0, TtrpcFrameHeader.Size).CopyTo(headerBytes);
        var header = TtrpcFrameHeader.Read(headerBytes);

        if (header.Length > _maxPayload)
        {
            buffer = buffer.Slice(TtrpcFrameHeader.Size);
            var skip = Math.Min(header.Length, buffer.Length);
            buffer = buffer.Slice(skip);
            _skipRemaining = header.Length - skip;
            frame = new TtrpcFrame(header, [], oversized: true);
            return true;
        }

        if (buffer.Length < TtrpcFrameHeader.Size + header.Length)
        {
            return false;
        }

        var payload = buffer.Slice(TtrpcFrameHeader.Size, header.Length).ToArray();
        buffer = buffer.Slice(TtrpcFrameHeader.Size + header.Length);
        frame = new TtrpcFrame(header, payload);
        return true;
    }
}

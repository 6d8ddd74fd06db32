using System.Buffers;
using Google.Protobuf;

namespace KataSharp.Protocol.Ttrpc;

/// <summary>
/// A handler's answer, still to be encoded: the server writes it straight into the response frame. A message
/// is serialised there once, never first into an array of its own; under emulation every copy of a 1 MiB
/// ReadOutput answer is time the guest's one vCPU does not spend running the container. A message with
/// <see cref="ITtrpcTrailingBytes"/> ends with bytes that are not copied at all (see <see cref="Trailing"/>).
/// </summary>
public readonly struct TtrpcPayload : IDisposable
{
    private readonly IMessage? _message;
    private readonly ReadOnlyMemory<byte> _bytes;
    private readonly int _trailingTag;

    private TtrpcPayload(IMessage? message, ReadOnlyMemory<byte> bytes, int length, ITtrpcBytesSource? trailing, int trailingTag)
    {
        _message = message;
        _bytes = bytes;
        Length = length;
        Trailing = trailing;
        _trailingTag = trailingTag;
    }

    /// <summary>How many bytes the payload is on the wire, <see cref="Trailing"/>'s included.</summary>
    public int Length { get; }

    /// <summary>The payload's last bytes, which <see cref="WriteTo"/> leaves to the frame writer; null for most.</summary>
    public ITtrpcBytesSource? Trailing { get; }

    public static TtrpcPayload Of(IMessage message)
    {
        if (message is not ITtrpcTrailingBytes { TrailingBytes: { } trailing } tailed)
        {
            return new(message, default, message.CalculateSize(), null, 0);
        }

        var tag = WireFormat.MakeTag(tailed.TrailingFieldNumber, WireFormat.WireType.LengthDelimited);
        var length = message.CalculateSize() + CodedOutputStream.ComputeUInt32Size(tag) + CodedOutputStream.ComputeLengthSize(trailing.Length) + trailing.Length;
        return new(message, default, length, trailing, (int)tag);
    }

    /// <summary>Bytes already encoded; they are written as they are, so the caller must not change them.</summary>
    public static TtrpcPayload Of(ReadOnlyMemory<byte> encoded) => new(null, encoded, encoded.Length, null, 0);

    /// <summary>Writes all but <see cref="Trailing"/>: what comes before it, its field's tag and length included.</summary>
    public void WriteTo(IBufferWriter<byte> output)
    {
        if (_message is not null)
        {
            _message.WriteTo(output);
        }
        else
        {
            output.Write(_bytes.Span);
        }

        if (Trailing is { } trailing)
        {
            var span = output.GetSpan(10);
            var n = WriteVarint(span, (uint)_trailingTag);
            n += WriteVarint(span[n..], (uint)trailing.Length);
            output.Advance(n);
        }
    }

    /// <summary>Gives <see cref="Trailing"/> back, whether it was written or not.</summary>
    public void Dispose() => Trailing?.Dispose();

    private static int WriteVarint(Span<byte> span, uint value)
    {
        var n = 0;
        while (value >= 0x80)
        {
            span[n++] = (byte)(value | 0x80);
            value >>= 7;
        }

        span[n++] = (byte)value;
        return n;
    }
}

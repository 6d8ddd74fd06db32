using System.Buffers;
using Google.Protobuf;

namespace KataSharp.Protocol.Ttrpc;

/// <summary>
/// A handler's answer, still to be encoded: the server writes it straight into the response frame. A message
/// is serialised there once, never first into an array of its own; under emulation every copy of a 1 MiB
/// ReadOutput answer is time the guest's one vCPU does not spend running the container.
/// </summary>
public readonly struct TtrpcPayload
{
    private readonly IMessage? _message;
    private readonly ReadOnlyMemory<byte> _bytes;

    private TtrpcPayload(IMessage? message, ReadOnlyMemory<byte> bytes, int length)
    {
        _message = message;
        _bytes = bytes;
        Length = length;
    }

    /// <summary>How many bytes <see cref="WriteTo"/> writes.</summary>
    public int Length { get; }

    public static TtrpcPayload Of(IMessage message) => new(message, default, message.CalculateSize());

    /// <summary>Bytes already encoded; they are written as they are, so the caller must not change them.</summary>
    public static TtrpcPayload Of(ReadOnlyMemory<byte> encoded) => new(null, encoded, encoded.Length);

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
    }
}

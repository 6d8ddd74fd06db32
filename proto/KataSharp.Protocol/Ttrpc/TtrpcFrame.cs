using System.Buffers;
using System.Buffers.Binary;
using Google.Protobuf;

namespace KataSharp.Protocol.Ttrpc;

/// <summary>The message types a ttrpc frame header can carry.</summary>
public enum TtrpcMessageType : byte
{
    Request = 0x1,
    Response = 0x2,
    Data = 0x3,
}

/// <summary>The 10-byte big-endian header that precedes every ttrpc frame.</summary>
public readonly record struct TtrpcFrameHeader(uint Length, uint StreamId, TtrpcMessageType Type, byte Flags)
{
    public const int Size = 10;

    /// <summary>ttrpc refuses payloads larger than 4 MiB, on both sides.</summary>
    public const int MaxPayload = 4 << 20;

    public static TtrpcFrameHeader Read(ReadOnlySpan<byte> source) => new(
        BinaryPrimitives.ReadUInt32BigEndian(source),
        BinaryPrimitives.ReadUInt32BigEndian(source[4..]),
        (TtrpcMessageType)source[8],
        source[9]);

    /// <summary>Reads the header at the start of <paramref name="source"/>, which holds at least <see cref="Size"/> bytes.</summary>
    public static TtrpcFrameHeader Read(in ReadOnlySequence<byte> source)
    {
        var first = source.FirstSpan;
        if (first.Length >= Size)
        {
            return Read(first);
        }

        // Only a header torn across two pipe segments pays for the copy.
        Span<byte> header = stackalloc byte[Size];
        source.Slice(0, Size).CopyTo(header);
        return Read(header);
    }

    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt32BigEndian(destination, Length);
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], StreamId);
        destination[8] = (byte)Type;
        destination[9] = Flags;
    }
}

/// <summary>One frame read off the wire. <see cref="Oversized"/> frames had their payload discarded.</summary>
public sealed class TtrpcFrame
{
    public TtrpcFrame(TtrpcFrameHeader header, byte[] payload, bool oversized = false)
    {
        Header = header;
        Payload = payload;
        Oversized = oversized;
    }

    public TtrpcFrameHeader Header { get; }

    public byte[] Payload { get; }

    public bool Oversized { get; }
}

/// <summary>
/// One frame whose payload was parsed straight out of the pipe's buffer. <see cref="Message"/> is null for
/// an oversized frame, a frame of another type (not parsed), or a malformed one (<see cref="Malformed"/> says why).
/// The message owns its bytes: protobuf copies every bytes field, so nothing refers to pipe memory.
/// </summary>
public sealed class TtrpcFrame<T>
    where T : class, IMessage<T>
{
    public TtrpcFrame(TtrpcFrameHeader header, T? message, bool oversized = false, string? malformed = null)
    {
        Header = header;
        Message = message;
        Oversized = oversized;
        Malformed = malformed;
    }

    public TtrpcFrameHeader Header { get; }

    public T? Message { get; }

    public bool Oversized { get; }

    public string? Malformed { get; }
}

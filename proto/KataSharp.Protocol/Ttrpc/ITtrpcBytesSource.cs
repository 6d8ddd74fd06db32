using System.Buffers;

namespace KataSharp.Protocol.Ttrpc;

/// <summary>
/// Bytes that end a response and are not in memory: they stay where they are (a process's output pipe) until
/// the frame writer, holding the connection, moves them onto the transport, without a copy through user space
/// where the transport can take them that way. Disposing gives the source back, written or not; bytes that were
/// never written stay where they were.
/// </summary>
public interface ITtrpcBytesSource : IDisposable
{
    /// <summary>Exactly how many bytes <see cref="MoveTo"/> or <see cref="CopyTo"/> writes.</summary>
    int Length { get; }

    /// <summary>Whether <see cref="MoveTo"/> can write onto <paramref name="transport"/>.</summary>
    bool CanMoveTo(Stream transport);

    /// <summary>
    /// Writes the bytes onto <paramref name="transport"/> directly, after everything the frame writer flushed
    /// before them. Throws if it could not move every byte: the frame is then torn.
    /// </summary>
    void MoveTo(Stream transport);

    /// <summary>Copies the bytes into <paramref name="output"/>, for a transport they cannot be moved onto.</summary>
    void CopyTo(IBufferWriter<byte> output);
}

/// <summary>
/// A generated message whose bytes field <see cref="TrailingFieldNumber"/> is left empty in the message and
/// written last, from <see cref="TrailingBytes"/>: protobuf reads a message's fields in any order, so the bytes
/// on the wire decode to the message with that field set.
/// </summary>
public interface ITtrpcTrailingBytes
{
    int TrailingFieldNumber { get; }

    ITtrpcBytesSource? TrailingBytes { get; }
}

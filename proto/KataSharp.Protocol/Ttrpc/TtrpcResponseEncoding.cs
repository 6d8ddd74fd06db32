using System.Buffers;
using Google.Protobuf;

namespace KataSharp.Protocol.Ttrpc;

/// <summary>
/// Encodes ttrpc's <c>Response { google.rpc.Status status = 1; bytes payload = 2; }</c> around a
/// <see cref="TtrpcPayload"/> written in place, byte for byte what the generated <c>Response</c> would encode
/// (the status always present, an empty payload left out), without holding the payload in a ByteString first.
/// </summary>
internal static class TtrpcResponseEncoding
{
    private const byte StatusTag = (1 << 3) | 2;
    private const byte PayloadTag = (2 << 3) | 2;

    public static int Size(Rpc.Status status, in TtrpcPayload payload) =>
        1 + CodedOutputStream.ComputeMessageSize(status) + (payload.Length == 0 ? 0 : 1 + CodedOutputStream.ComputeLengthSize(payload.Length) + payload.Length);

    public static void Write(IBufferWriter<byte> output, Rpc.Status status, in TtrpcPayload payload)
    {
        WriteLengthPrefix(output, StatusTag, status.CalculateSize());
        status.WriteTo(output);
        if (payload.Length != 0)
        {
            WriteLengthPrefix(output, PayloadTag, payload.Length);
            payload.WriteTo(output);
        }
    }

    private static void WriteLengthPrefix(IBufferWriter<byte> output, byte tag, int length)
    {
        var span = output.GetSpan(6);
        span[0] = tag;
        var n = 1;
        var value = (uint)length;
        while (value >= 0x80)
        {
            span[n++] = (byte)(value | 0x80);
            value >>= 7;
        }

        span[n++] = (byte)value;
        output.Advance(n);
    }
}

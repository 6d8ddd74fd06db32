using System.Buffers;
using System.Runtime.InteropServices;
using Google.Protobuf;
using Grpc.Core;

namespace KataSharp.Protocol.Ttrpc;

/// <summary>
/// Runs Grpc.Tools' contextual marshallers on whole byte arrays: ttrpc frames carry a message
/// in one piece, and the generated marshallers do not offer the simple byte[] form.
/// </summary>
internal static class TtrpcMarshalling
{
    public static byte[] Serialize<T>(Marshaller<T> marshaller, T message)
    {
        var context = new ArraySerializationContext();
        marshaller.ContextualSerializer(message, context);
        return context.Result ?? throw new InvalidOperationException("the marshaller produced no payload");
    }

    public static T Deserialize<T>(Marshaller<T> marshaller, byte[] payload) =>
        marshaller.ContextualDeserializer(new ArrayDeserializationContext(payload));

    /// <summary>
    /// The bytes of a ByteString that belongs to a message about to be dropped, without copying them when
    /// the ByteString owns exactly one whole array (as every freshly parsed bytes field does).
    /// </summary>
    public static byte[] TakeBytes(ByteString bytes) =>
        MemoryMarshal.TryGetArray(bytes.Memory, out var segment) && segment.Array is { } array && segment.Offset == 0 && segment.Count == array.Length
            ? array
            : bytes.ToByteArray();

    private sealed class ArraySerializationContext : SerializationContext
    {
        private IBufferWriter<byte>? _writer;

        public byte[]? Result { get; private set; }

        public override void Complete(byte[] payload) => Result = payload;

        public override IBufferWriter<byte> GetBufferWriter() => _writer ??= new ArrayBufferWriter<byte>();

        // Protobuf's marshallers announce the encoded size first: the message is then written into its final array.
        public override void SetPayloadLength(int payloadLength) => _writer ??= new ExactArrayWriter(payloadLength);

        public override void Complete() => Result = _writer switch
        {
            null => [],
            ExactArrayWriter exact => exact.Complete(),
            ArrayBufferWriter<byte> growing => growing.WrittenSpan.ToArray(),
            _ => throw new InvalidOperationException("unknown buffer writer"),
        };
    }

    /// <summary>A buffer writer over one array of the announced length; writing past it or short of it is a marshaller bug.</summary>
    private sealed class ExactArrayWriter : IBufferWriter<byte>
    {
        private readonly byte[] _array;
        private int _written;

        public ExactArrayWriter(int length) => _array = length == 0 ? [] : new byte[length];

        public void Advance(int count)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(count);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(count, _array.Length - _written);
            _written += count;
        }

        public Memory<byte> GetMemory(int sizeHint = 0) => _array.AsMemory(Reserve(sizeHint));

        public Span<byte> GetSpan(int sizeHint = 0) => _array.AsSpan(Reserve(sizeHint));

        public byte[] Complete() => _written == _array.Length
            ? _array
            : throw new InvalidOperationException($"the marshaller announced {_array.Length} bytes but wrote {_written}");

        private int Reserve(int sizeHint) => _array.Length - _written >= Math.Max(sizeHint, 1)
            ? _written
            : throw new InvalidOperationException($"the marshaller wrote past the {_array.Length} bytes it announced");
    }

    private sealed class ArrayDeserializationContext : DeserializationContext
    {
        private readonly byte[] _payload;

        public ArrayDeserializationContext(byte[] payload) => _payload = payload;

        public override int PayloadLength => _payload.Length;

        public override byte[] PayloadAsNewBuffer() => (byte[])_payload.Clone();

        public override ReadOnlySequence<byte> PayloadAsReadOnlySequence() => new(_payload);
    }
}

using System.Buffers;
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

    private sealed class ArraySerializationContext : SerializationContext
    {
        private ArrayBufferWriter<byte>? _writer;

        public byte[]? Result { get; private set; }

        public override void Complete(byte[] payload) => Result = payload;

        public override IBufferWriter<byte> GetBufferWriter() => _writer ??= new ArrayBufferWriter<byte>();

        public override void SetPayloadLength(int payloadLength)
        {
        }

        public override void Complete() => Result = _writer?.WrittenSpan.ToArray() ?? [];
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

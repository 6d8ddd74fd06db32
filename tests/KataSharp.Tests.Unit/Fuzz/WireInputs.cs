using CsCheck;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using KataSharp.Protocol.Ttrpc;
using KataSharp.Protocol.Ttrpc.Wire;

namespace KataSharp.Tests.Unit.Fuzz;

/// <summary>
/// Connections' worth of ttrpc frames carrying calls of a service's methods with random (hostile) requests.
/// With <c>hostileFraming</c> the envelope lies too: stream ids, types, flags, lengths, timeouts, metadata.
/// </summary>
internal static class WireInputs
{
    private const int MaxFrames = 6;

    public static Gen<byte[]> Calls(string service, IReadOnlyList<MethodDescriptor> methods, ProtoMessages messages, bool hostileFraming) =>
        Gen.UInt.Array[0, 600].Select(values => FuzzFrame.Encode(Frames(new Choices(values), service, methods, messages, hostileFraming)));

    private static IEnumerable<FuzzFrame> Frames(Choices choices, string service, IReadOnlyList<MethodDescriptor> methods, ProtoMessages messages, bool hostile)
    {
        var count = 1 + (int)(choices.Next() % MaxFrames);
        for (var i = 0; i < count; i++)
        {
            var method = methods[(int)(choices.Next() % methods.Count)];
            var request = new Request
            {
                Service = hostile && choices.Chance(10) ? HostileValues.String(choices) : service,
                Method = hostile && choices.Chance(10) ? HostileValues.String(choices) : method.Name,
                Payload = hostile && choices.Chance(8)
                    ? ByteString.CopyFrom(HostileValues.Bytes(choices, []))
                    : messages.Build(method.InputType, choices).ToByteString(),
                TimeoutNano = choices.Chance(4) ? HostileValues.Integer(choices) : 0,
            };
            if (hostile && choices.Chance(4))
            {
                request.Metadata.Add(new KeyValue { Key = HostileValues.String(choices), Value = HostileValues.String(choices) });
            }

            var payload = hostile && choices.Chance(16) ? HostileValues.Bytes(choices, []) : request.ToByteArray();
            yield return new FuzzFrame(
                StreamId: hostile && choices.Chance(8) ? (uint)HostileValues.Integer(choices) : (uint)(2 * i + 1),
                Type: hostile && choices.Chance(10) ? (byte)choices.Next() : (byte)TtrpcMessageType.Request,
                Flags: hostile && choices.Chance(10) ? (byte)choices.Next() : (byte)0,
                Payload: payload,
                DeclaredLength: hostile && choices.Chance(16) ? (uint)HostileValues.Integer(choices) : null);
        }
    }
}

using System.Collections;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Google.Protobuf.WellKnownTypes;

namespace KataSharp.Tests.Unit.Fuzz;

/// <summary>
/// Builds random protobuf messages of any type from its descriptor: every field may be set, to hostile
/// values, nested messages to a bounded depth, bytes fields (OCI JSON) from a corpus of specs.
/// </summary>
internal sealed class ProtoMessages(IReadOnlyList<byte[]> bytesCorpus)
{
    private const int MaxDepth = 3;
    private const int MaxRepeated = 4;

    public IMessage Build(MessageDescriptor descriptor, Choices choices) => Build(descriptor, choices, 0);

    private IMessage Build(MessageDescriptor descriptor, Choices choices, int depth)
    {
        var message = descriptor.Parser.ParseFrom(ByteString.Empty);
        if (descriptor.FullName == Any.Descriptor.FullName)
        {
            return new Any { TypeUrl = HostileValues.String(choices), Value = ByteString.CopyFrom(HostileValues.Bytes(choices, bytesCorpus)) };
        }

        foreach (var field in descriptor.Fields.InFieldNumberOrder())
        {
            if (choices.Chance(3))
            {
                continue;
            }

            if (field.IsMap)
            {
                var map = (IDictionary)field.Accessor.GetValue(message);
                var entry = field.MessageType;
                for (var i = choices.Next() % MaxRepeated; i > 0; i--)
                {
                    var key = Value(entry.FindFieldByNumber(1), choices, depth);
                    var value = Value(entry.FindFieldByNumber(2), choices, depth);
                    if (key is not null && value is not null)
                    {
                        map[key] = value;
                    }
                }
            }
            else if (field.IsRepeated)
            {
                var list = (IList)field.Accessor.GetValue(message);
                for (var i = choices.Next() % MaxRepeated; i > 0; i--)
                {
                    if (Value(field, choices, depth) is { } value)
                    {
                        list.Add(value);
                    }
                }
            }
            else if (Value(field, choices, depth) is { } value)
            {
                field.Accessor.SetValue(message, value);
            }
        }

        return message;
    }

    private object? Value(FieldDescriptor field, Choices choices, int depth) => field.FieldType switch
    {
        FieldType.String => HostileValues.String(choices),
        FieldType.Bytes => ByteString.CopyFrom(HostileValues.Bytes(choices, bytesCorpus)),
        FieldType.Bool => choices.Chance(2),
        FieldType.Int32 or FieldType.SInt32 or FieldType.SFixed32 => (int)HostileValues.Integer(choices),
        FieldType.Int64 or FieldType.SInt64 or FieldType.SFixed64 => HostileValues.Integer(choices),
        FieldType.UInt32 or FieldType.Fixed32 => (uint)HostileValues.Integer(choices),
        FieldType.UInt64 or FieldType.Fixed64 => (ulong)HostileValues.Integer(choices),
        FieldType.Double => (double)HostileValues.Integer(choices) / (choices.Next() % 7 + 1),
        FieldType.Float => (float)HostileValues.Integer(choices),
        FieldType.Enum => EnumValue(field, choices),
        FieldType.Message when depth < MaxDepth => Build(field.MessageType, choices, depth + 1),
        _ => null,
    };

    private static object EnumValue(FieldDescriptor field, Choices choices)
    {
        var values = field.EnumType.Values;
        var number = choices.Chance(4) ? (int)HostileValues.Integer(choices) : values[(int)(choices.Next() % values.Count)].Number;
        // The generated accessor takes the C# enum type; an undefined number is still a valid value of it.
        return System.Enum.ToObject(field.EnumType.ClrType, number);
    }
}

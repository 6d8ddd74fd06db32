using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace KataSharp.Protocol;

/// <summary>
/// Packs and unpacks <see cref="Any"/> the way containerd's typeurl does: proto messages under
/// their bare full name (containerd.events.TaskExit), not type.googleapis.com/..., and OCI
/// documents as JSON under containerd's registered names.
/// </summary>
public static class TypeUrls
{
    public const string OciProcess = "types.containerd.io/opencontainers/runtime-spec/1/Process";
    public const string OciLinuxResources = "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources";
    public const string OciSpec = "types.containerd.io/opencontainers/runtime-spec/1/Spec";

    public static Any Pack(IMessage message) => new()
    {
        TypeUrl = message.Descriptor.FullName,
        Value = message.ToByteString(),
    };

    public static Any PackJson(string typeUrl, ReadOnlySpan<byte> json) => new()
    {
        TypeUrl = typeUrl,
        Value = ByteString.CopyFrom(json),
    };

    /// <summary>The message name an Any carries, with any URL prefix removed.</summary>
    public static string MessageName(Any any)
    {
        var slash = any.TypeUrl.LastIndexOf('/');
        return slash < 0 ? any.TypeUrl : any.TypeUrl[(slash + 1)..];
    }

    public static bool Is<T>(Any any)
        where T : IMessage<T>, new() => MessageName(any) == new T().Descriptor.FullName;

    /// <exception cref="ArgumentException">The Any holds another type.</exception>
    public static T Unpack<T>(Any any)
        where T : IMessage<T>, new()
    {
        var message = new T();
        if (MessageName(any) != message.Descriptor.FullName)
        {
            throw new ArgumentException($"expected {message.Descriptor.FullName}, got {any.TypeUrl}");
        }

        message.MergeFrom(any.Value);
        return message;
    }
}

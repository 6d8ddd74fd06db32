using Grpc.Core;

namespace KataSharp.Protocol.Errors;

/// <summary>
/// An error of a known <see cref="ErrorKind"/>. It is an <see cref="RpcException"/> so that code written
/// against gRPC statuses keeps working, and its status comes from the one table in <see cref="ErrorStatus"/>.
/// </summary>
public sealed class KataSharpException : RpcException
{
    public KataSharpException(ErrorKind kind, string message)
        : base(new Status(ErrorStatus.ToStatusCode(kind), message), message) => Kind = kind;

    public ErrorKind Kind { get; }
}

using Grpc.Core;
using KataSharp.Protocol.Errors;

namespace KataSharp.Runtime.Sandbox;

/// <summary>What went wrong, in the gRPC terms the shim reports to containerd (design: "bad input gets the right status code").</summary>
public enum SandboxErrorCode
{
    InvalidArgument,
    NotFound,
    AlreadyExists,
    FailedPrecondition,
    PermissionDenied,
    ResourceExhausted,
    DeadlineExceeded,
    Unavailable,
    Internal,
}

public sealed class SandboxException : Exception
{
    public SandboxException(SandboxErrorCode code, string message, Exception? inner = null) : base(message, inner) => Code = code;

    public SandboxErrorCode Code { get; }

    /// <summary>The code in the shared error vocabulary.</summary>
    public ErrorKind Kind => Code switch
    {
        SandboxErrorCode.InvalidArgument => ErrorKind.InvalidArgument,
        SandboxErrorCode.NotFound => ErrorKind.NotFound,
        SandboxErrorCode.AlreadyExists => ErrorKind.AlreadyExists,
        SandboxErrorCode.FailedPrecondition => ErrorKind.FailedPrecondition,
        SandboxErrorCode.PermissionDenied => ErrorKind.PermissionDenied,
        SandboxErrorCode.ResourceExhausted => ErrorKind.ResourceExhausted,
        SandboxErrorCode.DeadlineExceeded => ErrorKind.DeadlineExceeded,
        SandboxErrorCode.Unavailable => ErrorKind.Unavailable,
        _ => ErrorKind.Internal,
    };

    public StatusCode StatusCode => ErrorStatus.ToStatusCode(Kind);

    /// <summary>The same error in the shared vocabulary, for answering containerd.</summary>
    public KataSharpException ToError() => new(Kind, Message);

    /// <summary>Turns an agent error into a sandbox error with the same meaning.</summary>
    public static SandboxException FromRpc(string what, RpcException e) => new(ErrorStatus.ToKind(e.StatusCode) switch
    {
        ErrorKind.InvalidArgument => SandboxErrorCode.InvalidArgument,
        ErrorKind.NotFound => SandboxErrorCode.NotFound,
        ErrorKind.AlreadyExists => SandboxErrorCode.AlreadyExists,
        ErrorKind.FailedPrecondition => SandboxErrorCode.FailedPrecondition,
        ErrorKind.PermissionDenied => SandboxErrorCode.PermissionDenied,
        ErrorKind.ResourceExhausted => SandboxErrorCode.ResourceExhausted,
        ErrorKind.DeadlineExceeded => SandboxErrorCode.DeadlineExceeded,
        ErrorKind.Unavailable => SandboxErrorCode.Unavailable,
        _ => SandboxErrorCode.Internal,
    }, $"{what}: {e.Status.Detail} ({e.StatusCode})", e);
}

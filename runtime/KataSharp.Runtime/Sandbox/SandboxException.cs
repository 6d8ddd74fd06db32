using Grpc.Core;

namespace KataSharp.Runtime.Sandbox;

/// <summary>What went wrong, in the gRPC terms the shim reports to containerd (design: "bad input gets the right status code").</summary>
public enum SandboxErrorCode
{
    InvalidArgument,
    NotFound,
    AlreadyExists,
    FailedPrecondition,
    ResourceExhausted,
    DeadlineExceeded,
    Unavailable,
    Internal,
}

public sealed class SandboxException : Exception
{
    public SandboxException(SandboxErrorCode code, string message, Exception? inner = null) : base(message, inner) => Code = code;

    public SandboxErrorCode Code { get; }

    public StatusCode StatusCode => Code switch
    {
        SandboxErrorCode.InvalidArgument => StatusCode.InvalidArgument,
        SandboxErrorCode.NotFound => StatusCode.NotFound,
        SandboxErrorCode.AlreadyExists => StatusCode.AlreadyExists,
        SandboxErrorCode.FailedPrecondition => StatusCode.FailedPrecondition,
        SandboxErrorCode.ResourceExhausted => StatusCode.ResourceExhausted,
        SandboxErrorCode.DeadlineExceeded => StatusCode.DeadlineExceeded,
        SandboxErrorCode.Unavailable => StatusCode.Unavailable,
        _ => StatusCode.Internal,
    };

    /// <summary>Turns an agent error into a sandbox error with the same meaning.</summary>
    public static SandboxException FromRpc(string what, RpcException e) => new(e.StatusCode switch
    {
        StatusCode.InvalidArgument => SandboxErrorCode.InvalidArgument,
        StatusCode.NotFound => SandboxErrorCode.NotFound,
        StatusCode.AlreadyExists => SandboxErrorCode.AlreadyExists,
        StatusCode.FailedPrecondition => SandboxErrorCode.FailedPrecondition,
        StatusCode.ResourceExhausted => SandboxErrorCode.ResourceExhausted,
        StatusCode.DeadlineExceeded => SandboxErrorCode.DeadlineExceeded,
        StatusCode.Unavailable => SandboxErrorCode.Unavailable,
        _ => SandboxErrorCode.Internal,
    }, $"{what}: {e.Status.Detail} ({e.StatusCode})", e);
}

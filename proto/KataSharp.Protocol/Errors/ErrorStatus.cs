using Google.Protobuf;
using Grpc.Core;

namespace KataSharp.Protocol.Errors;

/// <summary>The one mapping between the error vocabulary and gRPC status codes, both ways.</summary>
public static class ErrorStatus
{
    public static StatusCode ToStatusCode(ErrorKind kind) => kind switch
    {
        ErrorKind.InvalidArgument => StatusCode.InvalidArgument,
        ErrorKind.NotFound => StatusCode.NotFound,
        ErrorKind.AlreadyExists => StatusCode.AlreadyExists,
        ErrorKind.FailedPrecondition => StatusCode.FailedPrecondition,
        ErrorKind.PermissionDenied => StatusCode.PermissionDenied,
        ErrorKind.Unavailable => StatusCode.Unavailable,
        ErrorKind.NotImplemented => StatusCode.Unimplemented,
        ErrorKind.ResourceExhausted => StatusCode.ResourceExhausted,
        ErrorKind.DeadlineExceeded => StatusCode.DeadlineExceeded,
        ErrorKind.Cancelled => StatusCode.Cancelled,
        ErrorKind.Internal => StatusCode.Internal,
        _ => StatusCode.Unknown,
    };

    public static ErrorKind ToKind(StatusCode code) => code switch
    {
        StatusCode.InvalidArgument or StatusCode.OutOfRange => ErrorKind.InvalidArgument,
        StatusCode.NotFound => ErrorKind.NotFound,
        StatusCode.AlreadyExists => ErrorKind.AlreadyExists,
        StatusCode.FailedPrecondition => ErrorKind.FailedPrecondition,
        StatusCode.PermissionDenied => ErrorKind.PermissionDenied,
        StatusCode.Unavailable => ErrorKind.Unavailable,
        StatusCode.Unimplemented => ErrorKind.NotImplemented,
        StatusCode.ResourceExhausted => ErrorKind.ResourceExhausted,
        StatusCode.DeadlineExceeded => ErrorKind.DeadlineExceeded,
        StatusCode.Cancelled => ErrorKind.Cancelled,
        StatusCode.Internal or StatusCode.DataLoss => ErrorKind.Internal,
        _ => ErrorKind.Unknown,
    };

    /// <summary>
    /// The kind of any exception a handler let escape. .NET's own exceptions are classified by what they
    /// mean: an <see cref="ArgumentException"/> is bad input, but an <see cref="InvalidOperationException"/>
    /// (or a disposed object) is a bug in the handler, so Internal, never the caller's FailedPrecondition.
    /// </summary>
    public static ErrorKind KindOf(Exception exception, bool deadlineExpired = false) => exception switch
    {
        KataSharpException e => e.Kind,
        RpcException e => ToKind(e.StatusCode),
        InvalidProtocolBufferException => ErrorKind.InvalidArgument,
        OperationCanceledException when deadlineExpired => ErrorKind.DeadlineExceeded,
        OperationCanceledException => ErrorKind.Cancelled,
        TimeoutException => ErrorKind.DeadlineExceeded,
        ArgumentException => ErrorKind.InvalidArgument,
        KeyNotFoundException or FileNotFoundException or DirectoryNotFoundException => ErrorKind.NotFound,
        NotImplementedException or NotSupportedException => ErrorKind.NotImplemented,
        InvalidOperationException or NullReferenceException or IndexOutOfRangeException or InvalidCastException => ErrorKind.Internal,
        _ => ErrorKind.Unknown,
    };

    /// <summary>The status to answer with; an <see cref="RpcException"/>'s own status is kept as it is.</summary>
    public static Status ToStatus(Exception exception, bool deadlineExpired = false) => exception switch
    {
        RpcException rpc => rpc.Status,
        InvalidProtocolBufferException e => new Status(StatusCode.InvalidArgument, $"malformed request: {e.Message}"),
        OperationCanceledException when deadlineExpired => new Status(StatusCode.DeadlineExceeded, "deadline exceeded"),
        OperationCanceledException => new Status(StatusCode.Cancelled, "cancelled"),
        _ => new Status(ToStatusCode(KindOf(exception, deadlineExpired)), exception.Message),
    };

    /// <summary>A status a peer answered with, back in the vocabulary, its message prefixed with who answered.</summary>
    public static KataSharpException FromRpc(RpcException e, string? peer = null) => e as KataSharpException
        ?? new KataSharpException(ToKind(e.StatusCode), peer is null ? e.Status.Detail : $"{peer}: {e.Status.Detail}");
}

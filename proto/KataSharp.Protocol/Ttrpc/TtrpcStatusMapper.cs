using Google.Protobuf;
using Grpc.Core;

namespace KataSharp.Protocol.Ttrpc;

/// <summary>Maps a handler's failure to the gRPC status a ttrpc peer branches on.</summary>
public static class TtrpcStatusMapper
{
    public static Status ToStatus(Exception exception, bool deadlineExpired) => exception switch
    {
        RpcException rpc => rpc.Status,
        InvalidProtocolBufferException e => new Status(StatusCode.InvalidArgument, $"malformed request: {e.Message}"),
        OperationCanceledException when deadlineExpired => new Status(StatusCode.DeadlineExceeded, "deadline exceeded"),
        OperationCanceledException => new Status(StatusCode.Cancelled, "cancelled"),
        TimeoutException e => new Status(StatusCode.DeadlineExceeded, e.Message),
        ArgumentException e => new Status(StatusCode.InvalidArgument, e.Message),
        KeyNotFoundException e => new Status(StatusCode.NotFound, e.Message),
        FileNotFoundException e => new Status(StatusCode.NotFound, e.Message),
        NotImplementedException e => new Status(StatusCode.Unimplemented, e.Message),
        NotSupportedException e => new Status(StatusCode.Unimplemented, e.Message),
        InvalidOperationException e => new Status(StatusCode.FailedPrecondition, e.Message),
        _ => new Status(StatusCode.Unknown, exception.Message),
    };
}

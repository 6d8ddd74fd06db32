using Grpc.Core;
using KataSharp.Protocol.Errors;

namespace KataSharp.Protocol.Ttrpc;

/// <summary>Maps a handler's failure to the gRPC status a ttrpc peer branches on: the server's one use of <see cref="ErrorStatus"/>.</summary>
public static class TtrpcStatusMapper
{
    public static Status ToStatus(Exception exception, bool deadlineExpired) => ErrorStatus.ToStatus(exception, deadlineExpired);
}

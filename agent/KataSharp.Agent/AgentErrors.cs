using KataSharp.Protocol.Errors;

namespace KataSharp.Agent;

/// <summary>The agent's errors, in the shared vocabulary; the ttrpc server maps them to gRPC statuses.</summary>
internal static class AgentErrors
{
    public static KataSharpException InvalidArgument(string message) => Errdefs.InvalidArgument(message);

    public static KataSharpException NotFound(string message) => Errdefs.NotFound(message);

    public static KataSharpException AlreadyExists(string message) => Errdefs.AlreadyExists(message);

    public static KataSharpException FailedPrecondition(string message) => Errdefs.FailedPrecondition(message);

    public static KataSharpException Internal(string message) => Errdefs.Internal(message);

    public static KataSharpException Unimplemented(string message) => Errdefs.NotImplemented(message);
}

namespace KataSharp.Runtime.Network;

/// <summary>What kind of failure a network step had, so the sandbox layer can report the right status code.</summary>
public enum NetworkErrorKind
{
    /// <summary>A command failed or timed out; the host is in a state we did not expect.</summary>
    Internal,

    /// <summary>The host or the namespace cannot do what was asked (no netns, a tap name taken, host networking).</summary>
    FailedPrecondition,

    /// <summary>No free subnet is left in the pool.</summary>
    ResourceExhausted,

    /// <summary>The request itself is wrong (a netns path that does not exist).</summary>
    InvalidArgument,
}

/// <summary>A network set-up or tear-down step failed; the message names the step and the command's own error.</summary>
public sealed class NetworkException : Exception
{
    public NetworkException(string message, NetworkErrorKind kind = NetworkErrorKind.Internal, Exception? inner = null)
        : base(message, inner) => Kind = kind;

    public NetworkErrorKind Kind { get; }
}

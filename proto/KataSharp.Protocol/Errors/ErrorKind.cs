namespace KataSharp.Protocol.Errors;

/// <summary>
/// What went wrong, in containerd's errdefs vocabulary. Every component speaks this; only the ttrpc
/// server turns it into a gRPC status, and only the agent client turns a status back into it.
/// </summary>
public enum ErrorKind
{
    /// <summary>Not classified: neither the caller's fault nor a known failure.</summary>
    Unknown,

    /// <summary>The request itself is malformed or out of range: the caller's fault.</summary>
    InvalidArgument,

    NotFound,

    AlreadyExists,

    /// <summary>The request is valid but the object is not in a state that allows it: the caller's ordering.</summary>
    FailedPrecondition,

    /// <summary>The caller may not do this: for a container, its executable exists but cannot be run.</summary>
    PermissionDenied,

    /// <summary>The peer (VM, agent, containerd) cannot be reached now; retrying may help.</summary>
    Unavailable,

    NotImplemented,

    ResourceExhausted,

    DeadlineExceeded,

    Cancelled,

    /// <summary>A bug or broken invariant in the component that answers, never the caller's fault.</summary>
    Internal,
}

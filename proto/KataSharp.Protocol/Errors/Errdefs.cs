namespace KataSharp.Protocol.Errors;

/// <summary>Constructors for the error vocabulary, named as containerd's errdefs names them.</summary>
public static class Errdefs
{
    public static KataSharpException InvalidArgument(string message) => new(ErrorKind.InvalidArgument, message);

    public static KataSharpException NotFound(string message) => new(ErrorKind.NotFound, message);

    public static KataSharpException AlreadyExists(string message) => new(ErrorKind.AlreadyExists, message);

    public static KataSharpException FailedPrecondition(string message) => new(ErrorKind.FailedPrecondition, message);

    public static KataSharpException PermissionDenied(string message) => new(ErrorKind.PermissionDenied, message);

    public static KataSharpException Unavailable(string message) => new(ErrorKind.Unavailable, message);

    public static KataSharpException NotImplemented(string message) => new(ErrorKind.NotImplemented, message);

    public static KataSharpException ResourceExhausted(string message) => new(ErrorKind.ResourceExhausted, message);

    public static KataSharpException Internal(string message) => new(ErrorKind.Internal, message);
}

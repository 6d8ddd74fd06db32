namespace KataSharp.Protocol.Errors;

/// <summary>
/// A container's command that could not be started, worded as runc words it (what containerd and kubelet users see):
/// NotFound when there is no such executable, PermissionDenied when it exists but cannot be run. The CLI turns these
/// two into docker's exit codes 127 and 126, so the agent and the CLI share the wording here.
/// </summary>
public static class ExecutableErrors
{
    private const string NotFoundText = "executable file not found in $PATH";
    private const string PermissionDeniedText = "permission denied";

    public static KataSharpException NotFound(string executable) => Errdefs.NotFound(Format(executable, NotFoundText));

    public static KataSharpException PermissionDenied(string executable) => Errdefs.PermissionDenied(Format(executable, PermissionDeniedText));

    /// <summary>Whether an error of <paramref name="kind"/> with <paramref name="detail"/> is one of the two above, and which.</summary>
    public static ExecutableFailure? Classify(ErrorKind kind, string detail) => kind switch
    {
        ErrorKind.NotFound when IsOurs(detail, NotFoundText) => ExecutableFailure.NotFound,
        ErrorKind.PermissionDenied when IsOurs(detail, PermissionDeniedText) => ExecutableFailure.NotExecutable,
        _ => null,
    };

    private static bool IsOurs(string detail, string ending) =>
        detail.StartsWith("exec: \"", StringComparison.Ordinal) && detail.EndsWith("\": " + ending, StringComparison.Ordinal);

    // Go's strconv.Quote as runc prints it, for the characters a path holds.
    private static string Format(string executable, string why) =>
        $"exec: \"{executable.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal)}\": {why}";
}

/// <summary>Why a container's command did not start.</summary>
public enum ExecutableFailure
{
    /// <summary>No such file on the container's PATH or in its rootfs (docker: exit 127).</summary>
    NotFound,

    /// <summary>It exists but is not executable: no permission, not a regular file, a directory (docker: exit 126).</summary>
    NotExecutable,
}

using System.Text.Json.Nodes;
using KataSharp.Protocol.Errors;

namespace KataSharp.Agent.Containers;

/// <summary>
/// Recognises crun's "the process cannot be started" failures and rewords them as runc does, with their own
/// status: crun checks the executable before create or exec returns, so these surface as that crun command's error.
/// </summary>
internal static class CrunExecFailure
{
    // crun 1.8's words (libcrun's find_executable): ENOENT on PATH or for an absolute path; EACCES for a file without
    // the x bit; EPERM for anything that is not a regular file (a directory, a device).
    private const string NotFound = "not found in $PATH";
    private static readonly string[] NotExecutable = ["open executable: Permission denied", "open executable: Operation not permitted", "open executable: Is a directory"];

    /// <summary>The runc-worded error for <paramref name="crunMessage"/>, or null when it is some other failure.</summary>
    public static KataSharpException? Translate(string crunMessage, string executable) =>
        crunMessage.Contains("executable file `", StringComparison.Ordinal) && crunMessage.Contains(NotFound, StringComparison.Ordinal)
            ? ExecutableErrors.NotFound(executable)
            : NotExecutable.Any(m => crunMessage.Contains(m, StringComparison.Ordinal))
                ? ExecutableErrors.PermissionDenied(executable)
                : null;

    /// <summary>The executable an OCI process names (its args[0]), or empty.</summary>
    public static string ExecutableOf(JsonNode? process) =>
        process?["args"] is JsonArray { Count: > 0 } args && args[0] is JsonValue first && first.TryGetValue<string>(out var name) ? name : string.Empty;

    /// <summary>What to throw instead of <paramref name="e"/> when it is a crun failure about the executable; otherwise null.</summary>
    public static KataSharpException? For(Exception e, JsonNode? process) =>
        e is CrunException crun ? Translate(crun.Message, ExecutableOf(process)) : null;
}

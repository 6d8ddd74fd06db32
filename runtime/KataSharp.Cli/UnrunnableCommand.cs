using Grpc.Core;
using KataSharp.Protocol.Errors;
using KataSharp.Runtime.Sandbox;

namespace KataSharp.Cli;

/// <summary>
/// docker's exit codes for a container command that never started: 127 when there is no such executable, 126 when it
/// exists but cannot be run; the agent tells them apart by status (NotFound, PermissionDenied) in runc's words.
/// </summary>
internal static class UnrunnableCommand
{
    public const int NotExecutable = 126;
    public const int NotFound = 127;

    /// <summary>The exit code and the agent's message when <paramref name="e"/> is such a failure; otherwise null.</summary>
    public static (int ExitCode, string Message)? Of(SandboxException e) =>
        e.InnerException is RpcException rpc
        && ExecutableErrors.Classify(ErrorStatus.ToKind(rpc.StatusCode), rpc.Status.Detail) is { } failure
            ? (failure == ExecutableFailure.NotFound ? NotFound : NotExecutable, rpc.Status.Detail)
            : null;
}

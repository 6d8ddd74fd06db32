using Grpc.Core;
using KataSharp.Cli;
using KataSharp.Protocol.Errors;
using KataSharp.Runtime.Sandbox;
using Xunit;

namespace KataSharp.Tests.Unit.Cli;

/// <summary>The agent's statuses for a command that never started become docker's exit codes; nothing else does.</summary>
public sealed class UnrunnableCommandTests
{
    private static SandboxException AsTheRuntimeWrapsIt(RpcException fromAgent) =>
        SandboxException.FromRpc("creating container c1", ErrorStatus.FromRpc(new RpcException(fromAgent.Status)));

    [Fact]
    public void No_such_executable_exits_127_with_runcs_message()
    {
        var e = AsTheRuntimeWrapsIt(ExecutableErrors.NotFound("nosuch"));

        Assert.Equal((127, "exec: \"nosuch\": executable file not found in $PATH"), UnrunnableCommand.Of(e));
    }

    [Fact]
    public void An_executable_that_cannot_run_exits_126()
    {
        var e = AsTheRuntimeWrapsIt(ExecutableErrors.PermissionDenied("/etc/passwd"));

        Assert.Equal(SandboxErrorCode.PermissionDenied, e.Code);
        Assert.Equal((126, "exec: \"/etc/passwd\": permission denied"), UnrunnableCommand.Of(e));
    }

    [Fact]
    public void Other_errors_stay_runtime_errors()
    {
        Assert.Null(UnrunnableCommand.Of(AsTheRuntimeWrapsIt(Errdefs.NotFound("container c1 not found"))));
        Assert.Null(UnrunnableCommand.Of(AsTheRuntimeWrapsIt(Errdefs.PermissionDenied("read-only sandbox"))));
        Assert.Null(UnrunnableCommand.Of(AsTheRuntimeWrapsIt(Errdefs.FailedPrecondition("exec: \"x\": executable file not found in $PATH"))));
        Assert.Null(UnrunnableCommand.Of(new SandboxException(SandboxErrorCode.NotFound, "exec: \"x\": executable file not found in $PATH")));
    }
}

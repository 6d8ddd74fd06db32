using System.Text.Json.Nodes;
using KataSharp.Agent.Containers;
using KataSharp.Protocol.Errors;
using Xunit;

namespace KataSharp.Tests.Unit.Agent;

/// <summary>crun's own words (crun 1.8.1, the guest's, read from its --log) become runc's, with a status per cause.</summary>
public sealed class CrunExecFailureTests
{
    private static JsonNode Process(string executable) => new JsonObject { ["args"] = new JsonArray(executable, "arg") };

    [Theory]
    [InlineData("nosuch", "executable file `nosuch` not found in $PATH: No such file or directory")]
    [InlineData("/nosuch", "executable file `/nosuch` not found in $PATH: No such file or directory")]
    public void A_missing_executable_is_NotFound_in_runcs_words(string executable, string crunLog)
    {
        var failure = CrunExecFailure.For(new CrunException("create", $"crun create c1 failed (exit status 1): {crunLog}"), Process(executable));

        Assert.NotNull(failure);
        Assert.Equal(ErrorKind.NotFound, failure.Kind);
        Assert.Equal($"exec: \"{executable}\": executable file not found in $PATH", failure.Status.Detail);
        Assert.Equal(ExecutableFailure.NotFound, ExecutableErrors.Classify(failure.Kind, failure.Status.Detail));
    }

    [Theory]
    [InlineData("/bin/noexec", "open executable: Permission denied")] // a file without the x bit
    [InlineData("/etc", "open executable: Operation not permitted")] // not a regular file
    public void An_executable_that_cannot_run_is_PermissionDenied(string executable, string crunLog)
    {
        var failure = CrunExecFailure.For(new CrunException("exec", $"crun exec c1 failed (exit status 1): {crunLog}"), Process(executable));

        Assert.NotNull(failure);
        Assert.Equal(ErrorKind.PermissionDenied, failure.Kind);
        Assert.Equal($"exec: \"{executable}\": permission denied", failure.Status.Detail);
        Assert.Equal(ExecutableFailure.NotExecutable, ExecutableErrors.Classify(failure.Kind, failure.Status.Detail));
    }

    [Fact]
    public void Other_crun_failures_and_other_exceptions_are_left_as_they_are()
    {
        Assert.Null(CrunExecFailure.For(new CrunException("create", "crun create c1 failed (exit status 1): chdir to `/nope`: No such file or directory"), Process("sh")));
        Assert.Null(CrunExecFailure.For(new IOException("open executable: Permission denied"), Process("sh")));
    }

    [Fact]
    public void A_quote_in_the_name_is_escaped_as_Go_quotes_it()
    {
        var failure = CrunExecFailure.For(new CrunException("create", "executable file `a\"b` not found in $PATH: No such file or directory"), Process("a\"b"));

        Assert.Equal("exec: \"a\\\"b\": executable file not found in $PATH", failure!.Status.Detail);
    }
}

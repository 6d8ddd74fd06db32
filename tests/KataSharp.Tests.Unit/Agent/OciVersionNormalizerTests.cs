using System.Text.Json.Nodes;
using Grpc.Core;
using KataSharp.Agent.Containers;
using KataSharp.Protocol.Errors;
using Xunit;

namespace KataSharp.Tests.Unit.Agent;

public sealed class OciVersionNormalizerTests
{
    private static JsonObject Spec(string version, string extra = "") =>
        JsonNode.Parse($$"""{ "ociVersion": "{{version}}", "process": { "args": ["sh"] }, "linux": { "namespaces": [] }{{extra}} }""")!.AsObject();

    private static KataSharpException Refusal(JsonObject spec) => Assert.Throws<KataSharpException>(() => OciVersionNormalizer.Normalize(spec));

    [Theory]
    [InlineData("1.2.1")] // containerd 2.1
    [InlineData("1.1.0")] // containerd 1.7
    [InlineData("1.3.0")]
    [InlineData("1.2.0-rc.1")]
    public void NewerOneDotXSpec_IsRewrittenToTheGuestCrunVersion(string version)
    {
        var spec = Spec(version);

        OciVersionNormalizer.Normalize(spec);

        Assert.Equal("1.0.2", spec["ociVersion"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("1.0.2")]
    [InlineData("1.0.2-dev")] // containerd 1.6
    public void OneDotZeroSpec_KeepsItsVersion(string version)
    {
        var spec = Spec(version);

        OciVersionNormalizer.Normalize(spec);

        Assert.Equal(version, spec["ociVersion"]!.GetValue<string>());
    }

    [Fact]
    public void SpecWithoutVersion_PassesAsCrunAcceptsIt()
    {
        var spec = JsonNode.Parse("""{ "process": { "args": ["sh"] } }""")!.AsObject();

        OciVersionNormalizer.Normalize(spec);

        Assert.Null(spec["ociVersion"]);
    }

    [Fact]
    public void MajorVersionTwo_IsFailedPrecondition()
    {
        var e = Refusal(Spec("2.0.0"));

        Assert.Equal(StatusCode.FailedPrecondition, e.StatusCode);
        Assert.Contains("2.0.0", e.Status.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("banana")]
    [InlineData("1")]
    public void MalformedVersion_IsInvalidArgument(string version) =>
        Assert.Equal(StatusCode.InvalidArgument, Refusal(Spec(version)).StatusCode);

    [Theory]
    [InlineData("""{ "ociVersion": "1.2.1", "process": { "args": ["sh"], "ioPriority": { "class": "IOPRIO_CLASS_IDLE" } } }""", "spec.process.ioPriority")]
    [InlineData("""{ "ociVersion": "1.2.1", "process": { "args": ["sh"], "scheduler": { "policy": "SCHED_IDLE" } } }""", "spec.process.scheduler")]
    [InlineData("""{ "ociVersion": "1.2.1", "linux": { "netDevices": { "eth1": {} } } }""", "spec.linux.netDevices")]
    [InlineData("""{ "ociVersion": "1.2.1", "linux": { "timeOffsets": { "monotonic": { "secs": 5 } } } }""", "spec.linux.timeOffsets")]
    [InlineData("""{ "ociVersion": "1.2.1", "linux": { "intelRdt": { "schemata": ["L3:0=ff"] } } }""", "spec.linux.intelRdt.schemata")]
    public void FieldTheGuestCrunWouldIgnore_IsRefusedByName(string json, string field)
    {
        var spec = JsonNode.Parse(json)!.AsObject();

        var e = Refusal(spec);

        Assert.Equal(StatusCode.FailedPrecondition, e.StatusCode);
        Assert.Contains(field, e.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void EmptyOrFalseNewFields_AskForNothing()
    {
        var spec = Spec("1.2.1", """, "extra": 1""");
        spec["linux"]!["netDevices"] = new JsonObject();
        spec["linux"]!["intelRdt"] = new JsonObject { ["enableMonitoring"] = false };

        OciVersionNormalizer.Normalize(spec);

        Assert.Equal("1.0.2", spec["ociVersion"]!.GetValue<string>());
    }

    [Fact]
    public void ExecProcessWithAFieldTheGuestCrunWouldIgnore_IsRefused()
    {
        var process = JsonNode.Parse("""{ "args": ["sh"], "execCPUAffinity": { "initial": "0" } }""")!.AsObject();

        var e = Assert.Throws<KataSharpException>(() => OciVersionNormalizer.CheckProcess(process));

        Assert.Equal(StatusCode.FailedPrecondition, e.StatusCode);
        Assert.Contains("process.execCPUAffinity", e.Status.Detail, StringComparison.Ordinal);
    }
}

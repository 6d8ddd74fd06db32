using System.Text.Json.Nodes;
using Grpc.Core;
using KataSharp.Protocol.Errors;
using KataSharp.Shim.TaskService;

namespace KataSharp.Tests.Unit.Shim;

public sealed class HostNamespaceRefusalTests
{
    [Fact]
    public void SpecWithItsOwnOrThePodsPidAndIpc_IsAccepted()
    {
        HostNamespaceRefusal.Check(Spec("""[{"type":"pid"},{"type":"ipc","path":"/proc/42/ns/ipc"},{"type":"network","path":"/var/run/netns/x"}]"""));
    }

    [Theory]
    [InlineData("""[{"type":"ipc"},{"type":"network"}]""", "hostPID: true")]
    [InlineData("""[{"type":"pid"},{"type":"network"}]""", "hostIPC: true")]
    [InlineData("""[]""", "hostPID: true")]
    public void SpecWithoutPidOrIpcNamespace_IsRefusedWithFailedPreconditionNamingIt(string namespaces, string named)
    {
        var error = Assert.Throws<KataSharpException>(() => HostNamespaceRefusal.Check(Spec(namespaces)));
        Assert.Equal(StatusCode.FailedPrecondition, error.StatusCode);
        Assert.Contains(named, error.Message);
        Assert.Contains("inside a VM", error.Message);
    }

    [Fact]
    public void SpecWithoutLinuxNamespaces_IsRefused()
    {
        var error = Assert.Throws<KataSharpException>(() => HostNamespaceRefusal.Check(new JsonObject { ["process"] = new JsonObject() }));
        Assert.Equal(StatusCode.FailedPrecondition, error.StatusCode);
    }

    private static JsonObject Spec(string namespaces) =>
        new() { ["linux"] = new JsonObject { ["namespaces"] = JsonNode.Parse(namespaces) } };
}

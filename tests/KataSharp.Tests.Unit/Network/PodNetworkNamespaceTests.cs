using System.Text.Json.Nodes;
using KataSharp.Runtime.Network;
using KataSharp.Runtime.Sandbox;

namespace KataSharp.Tests.Unit.Network;

public sealed class PodNetworkNamespaceTests
{
    private static JsonNode Spec(string namespaces, string annotations = "{}") =>
        JsonNode.Parse($$"""{"linux":{"namespaces":{{namespaces}}},"annotations":{{annotations}}}""")!;

    [Fact]
    public void A_cni_netns_path_is_a_pod_namespace_request()
    {
        var request = PodNetworkNamespace.RequestFor(Spec("""[{"type":"pid"},{"type":"network","path":"/var/run/netns/cni-1234"}]"""));

        Assert.Equal(SandboxNetworkRequest.PodNamespace("/var/run/netns/cni-1234"), request);
    }

    [Fact]
    public void A_new_namespace_without_cni_gets_no_nic()
    {
        Assert.Equal(SandboxNetworkRequest.None, PodNetworkNamespace.RequestFor(Spec("""[{"type":"network"}]""")));
    }

    [Fact]
    public void A_cri_pod_with_host_networking_is_refused_as_a_failed_precondition()
    {
        var spec = Spec("""[{"type":"pid"},{"type":"ipc"}]""", """{"io.kubernetes.cri.container-type":"sandbox"}""");

        var e = Assert.Throws<SandboxException>(() => PodNetworkNamespace.RequestFor(spec));

        Assert.Equal(SandboxErrorCode.FailedPrecondition, e.Code);
        Assert.Equal(Grpc.Core.StatusCode.FailedPrecondition, e.StatusCode);
        Assert.StartsWith("host networking (hostNetwork: true) cannot be honoured inside a VM", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_plain_container_without_a_network_namespace_is_refused_too()
    {
        var e = Assert.Throws<SandboxException>(() => PodNetworkNamespace.RequestFor(JsonNode.Parse("""{"process":{}}""")));

        Assert.Contains("--net-host", e.Message, StringComparison.Ordinal);
        Assert.Equal(SandboxErrorCode.FailedPrecondition, e.Code);
    }

    [Theory]
    [InlineData("""{"linux":{"namespaces":[{"type":"network","path":42}]}}""")]
    [InlineData("""{"linux":{"namespaces":[7,{"type":"network"}]},"annotations":[]}""")]
    public void A_malformed_spec_does_not_crash(string json) =>
        Assert.Equal(SandboxNetworkMode.None, PodNetworkNamespace.RequestFor(JsonNode.Parse(json)).Mode);

    [Fact]
    public void The_kind_is_read_from_the_spec()
    {
        Assert.Equal((OciNetworkKind.Host, null), PodNetworkNamespace.FromOciSpec(null));
        Assert.Equal((OciNetworkKind.Namespace, "/proc/1/ns/net"), PodNetworkNamespace.FromOciSpec(Spec("""[{"type":"network","path":"/proc/1/ns/net"}]""")));
        Assert.True(PodNetworkNamespace.IsCriSandbox(Spec("[]", """{"io.kubernetes.cri.container-type":"sandbox"}""")));
        Assert.False(PodNetworkNamespace.IsCriSandbox(Spec("[]", """{"io.kubernetes.cri.container-type":"container"}""")));
    }
}

using System.Text.Json.Nodes;
using Grpc.Core;
using CreateTaskRequest = KataSharp.Protocol.Containerd.Task.V2.CreateTaskRequest;
using KataSharp.Protocol.Errors;
using KataSharp.Shim.TaskService;

namespace KataSharp.Tests.Unit.Shim;

public sealed class VolumePropagationTests
{
    private static JsonObject SpecWith(params string[] options) => new()
    {
        ["mounts"] = new JsonArray(
            new JsonObject { ["destination"] = "/proc", ["type"] = "proc", ["source"] = "proc" },
            new JsonObject { ["destination"] = "/var/lib/csi", ["type"] = "bind", ["source"] = "/var/lib/kubelet/plugins", ["options"] = new JsonArray([.. options.Select(o => (JsonNode)o)]) }),
    };

    [Theory]
    [InlineData("rshared")]
    [InlineData("shared")]
    public void BidirectionalPropagation_IsRefusedNamingTheMount(string propagation)
    {
        var error = Assert.Throws<KataSharpException>(() => VolumePropagation.RequireHostToContainerOnly(SpecWith("rbind", propagation, "rw")));
        Assert.Equal(StatusCode.FailedPrecondition, error.StatusCode);
        Assert.Contains("/var/lib/csi", error.Message);
        Assert.Contains("/var/lib/kubelet/plugins", error.Message);
        Assert.Contains(propagation, error.Message);
    }

    [Theory]
    [InlineData("rslave")]
    [InlineData("rprivate")]
    [InlineData("ro")]
    public void HostToContainerAndPrivateVolumes_AreAccepted(string option) =>
        VolumePropagation.RequireHostToContainerOnly(SpecWith("rbind", option));

    [Fact]
    public async Task ATaskWithABidirectionalVolume_FailsBeforeAnyVmBootsOrEventIsPublished()
    {
        await using var pod = new FakeSandbox();
        var bundle = Directory.CreateTempSubdirectory("ks-bundle-").FullName;
        try
        {
            var spec = SpecWith("rbind", "rshared");
            spec["process"] = new JsonObject { ["args"] = new JsonArray("sh") };
            spec["linux"] = new JsonObject { ["namespaces"] = new JsonArray(new JsonObject { ["type"] = "pid" }, new JsonObject { ["type"] = "ipc" }) };
            await File.WriteAllTextAsync(Path.Combine(bundle, "config.json"), spec.ToJsonString());

            var error = await Assert.ThrowsAsync<KataSharpException>(() => pod.Service.Create(new CreateTaskRequest { Id = "c1", Bundle = bundle }, pod.Context));

            Assert.Equal(StatusCode.FailedPrecondition, error.StatusCode);
            Assert.Contains("/var/lib/csi", error.Message);
            pod.Factory.VerifyNoOtherCalls();
            Assert.Empty(pod.Events.Topics);
            Assert.True(pod.Service.Pod.IsEmpty);
        }
        finally
        {
            Directory.Delete(bundle, recursive: true);
        }
    }

    [Fact]
    public void ASpecWithoutMounts_IsAccepted() => VolumePropagation.RequireHostToContainerOnly(new JsonObject());
}

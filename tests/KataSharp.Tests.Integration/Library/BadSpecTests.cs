using System.Text.Json.Nodes;
using Google.Protobuf;
using Grpc.Core;
using KataSharp.Protocol.Agent.V1;
using KataSharp.Runtime.Sandbox;
using KataSharp.Tests.Integration.Infrastructure;

namespace KataSharp.Tests.Integration.Library;

/// <summary>
/// A bad container spec is refused with InvalidArgument (or NotFound for a missing file) and a message
/// that names the problem; the host side undoes its mounts; the agent and the sandbox go on working.
/// </summary>
[Collection(SharedSandboxCollection.Name)]
public sealed class BadSpecTests(SharedSandboxFixture fixture)
{
    public static TheoryData<string, string> InvalidFields => new()
    {
        { "empty-args", "args" },
        { "mounts-not-an-array", "mounts" },
        { "no-process", "process" },
        { "namespaces-not-an-array", "namespaces" },
    };

    [Theory]
    [MemberData(nameof(InvalidFields))]
    public async Task A_spec_with_an_invalid_field_is_rejected_and_its_mounts_are_undone(string defect, string named)
    {
        var id = "bad-" + defect;
        var spec = DefaultSpec.Create(new SpecOptions { Args = ["true"] });
        switch (defect)
        {
            case "empty-args":
                spec["process"]!["args"] = new JsonArray();
                break;
            case "mounts-not-an-array":
                spec["mounts"] = "not an array";
                break;
            case "no-process":
                spec.Remove("process");
                break;
            case "namespaces-not-an-array":
                spec["linux"]!["namespaces"] = new JsonObject { ["type"] = "pid" };
                break;
        }

        var rootfs = await BusyboxRootfs.CopyAsync(id);
        using var timeout = new CancellationTokenSource(TestEnvironment.OperationTimeout);
        var error = await Assert.ThrowsAsync<SandboxException>(() => fixture.Sandbox.CreateContainerAsync(
            new ContainerOptions { Id = id, Spec = spec, RootfsDirectory = rootfs }, timeout.Token));

        Assert.Equal(SandboxErrorCode.InvalidArgument, error.Code);
        Assert.Contains(named, error.Message, StringComparison.Ordinal);
        await AssertNothingLeftOfAsync(id);
    }

    [Fact]
    public async Task A_bind_volume_whose_host_path_is_missing_is_rejected_and_the_rootfs_is_unshared()
    {
        const string id = "bad-volume";
        var spec = DefaultSpec.Create(new SpecOptions { Args = ["true"] });
        DefaultSpec.AddBindMount(spec, "/nonexistent/katasharp-test-volume", "/data", readOnly: true);
        var rootfs = await BusyboxRootfs.CopyAsync(id);
        using var timeout = new CancellationTokenSource(TestEnvironment.OperationTimeout);

        var error = await Assert.ThrowsAsync<SandboxException>(() => fixture.Sandbox.CreateContainerAsync(
            new ContainerOptions { Id = id, Spec = spec, RootfsDirectory = rootfs }, timeout.Token));

        Assert.Equal(SandboxErrorCode.NotFound, error.Code);
        Assert.Contains("/nonexistent/katasharp-test-volume", error.Message, StringComparison.Ordinal);
        await AssertNothingLeftOfAsync(id);
        Assert.True(File.Exists(Path.Combine(rootfs, "bin", "busybox")), "the rootfs behind the share was damaged");
    }

    [Fact]
    public async Task Malformed_spec_JSON_is_rejected_by_the_agent_as_InvalidArgument()
    {
        var client = fixture.Sandbox.Agent.Client;
        var error = await Assert.ThrowsAsync<RpcException>(async () => await client.CreateContainerAsync(new CreateContainerRequest
        {
            ContainerId = "bad-json",
            SpecJson = ByteString.CopyFromUtf8("{\"ociVersion\": \"1.0.2\", \"process\": {"),
            Rootfs = "bad-json/rootfs",
            Stdio = new StdioOptions { Stdout = true, Stderr = true },
        }, deadline: fixture.Sandbox.Agent.Deadline));

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains("not valid JSON", error.Status.Detail, StringComparison.Ordinal);
        await AssertNothingLeftOfAsync("bad-json");
    }

    [Fact]
    public async Task An_invalid_container_id_is_refused_before_anything_is_shared()
    {
        var spec = DefaultSpec.Create(new SpecOptions { Args = ["true"] });
        using var timeout = new CancellationTokenSource(TestEnvironment.OperationTimeout);

        var error = await Assert.ThrowsAsync<SandboxException>(() => fixture.Sandbox.CreateContainerAsync(
            new ContainerOptions { Id = "../escape", Spec = spec, RootfsDirectory = "/" }, timeout.Token));

        Assert.Equal(SandboxErrorCode.InvalidArgument, error.Code);
        Assert.Contains("invalid container id", error.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(fixture.Sandbox.Paths.Shared, "..", "escape")));
    }

    /// <summary>No share directory or mount for the container, no state entry, and the agent still runs containers.</summary>
    private async Task AssertNothingLeftOfAsync(string id)
    {
        var shared = Path.Combine(fixture.Sandbox.Paths.Shared, id);
        Assert.False(Directory.Exists(shared), $"{shared} was left behind");
        Assert.Empty(Leftovers.MountPointsUnder(shared));
        Assert.DoesNotContain(fixture.Sandbox.State.Containers, c => c.Id == id);

        var check = await fixture.Sandbox.Agent.Client.CheckAsync(new CheckRequest(), deadline: fixture.Sandbox.Agent.Deadline);
        Assert.Equal(CheckResponse.Types.ServingStatus.Serving, check.Status);
        var (exit, stdout, _) = await fixture.RunAsync("after-" + id, "echo", "still-works");
        Assert.Equal(0, exit.ExitCode);
        Assert.Equal("still-works\n", stdout);
    }
}

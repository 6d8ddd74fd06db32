using Google.Protobuf;
using KataSharp.Protocol.Agent.V1;
using KataSharp.Protocol.Ttrpc;
using KataSharp.Tests.Unit.Fuzz;

namespace KataSharp.Tests.Unit.Agent;

/// <summary>What the agent does to its containers when the VM ends (DestroySandbox, a shutdown by signal).</summary>
public sealed class VmEndTests
{
    [Fact]
    public async Task TheVmsEnd_KillsWhatRunsAndForgetsEveryContainer_WithoutACrunDelete()
    {
        await using var world = new AgentWorld();
        var (client, end) = InMemoryDuplex.Create();
        var serving = world.Server.ServeAsync(end, "test", CancellationToken.None);
        await using (var agent = new TtrpcClient(client))
        {
            var spec = ByteString.CopyFrom(File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "corpus", "oci-spec", "ctr-run.json")));
            await agent.CallAsync(AgentWorld.Service, "CreateContainer", new CreateContainerRequest { ContainerId = "c1", SpecJson = spec, Rootfs = "rootfs" }.ToByteArray());
            await agent.CallAsync(AgentWorld.Service, "StartContainer", new ContainerRequest { ContainerId = "c1" }.ToByteArray());
        }

        await serving.WaitAsync(TimeSpan.FromSeconds(10));
        var container = world.Containers.Get("c1");
        var init = container.Init!;
        Assert.False(init.HasExited);

        await world.Lifecycle.EndAllAsync(TimeSpan.FromSeconds(30));

        Assert.True(init.HasExited, "the running init was not killed");
        Assert.Empty(world.Containers.All);
        // crun's state and the bundle are in the guest's memory, which goes with the VM; a crun delete would only
        // spend the host's deadline. The world checks at its end that nothing is left, so the test clears them.
        Assert.Equal(1, world.Crun.Count);
        Assert.True(Directory.Exists(container.BundleDir));
        await world.Crun.DeleteAsync("c1", CancellationToken.None);
        Directory.Delete(container.BundleDir, recursive: true);
        world.Log.ThrowIfAny();
    }
}

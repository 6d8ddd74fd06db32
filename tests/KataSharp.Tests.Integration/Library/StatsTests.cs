using KataSharp.Protocol.Agent.V1;
using KataSharp.Tests.Integration.Infrastructure;

namespace KataSharp.Tests.Integration.Library;

/// <summary>StatsContainer reports the container's cgroup: memory it allocated, its CPU time and its processes.</summary>
[Collection(SharedSandboxCollection.Name)]
public sealed class StatsTests(SharedSandboxFixture fixture)
{
    private const long Filled = 48L << 20;

    [Fact]
    public async Task Memory_usage_includes_what_the_container_allocated()
    {
        // tmpfs pages (/dev/shm) are charged to the cgroup of the process that wrote them, and stay until deleted.
        await using var container = await fixture.StartAsync("stats",
            ["sh", "-c", $"head -c {Filled} /dev/zero > /dev/shm/fill && echo filled; exec sleep 1000"]);
        await container.Output.Stdout.WaitForAsync("filled");

        var stats = await fixture.Sandbox.Agent.Client.StatsContainerAsync(new ContainerRequest { ContainerId = container.Id }, deadline: fixture.Sandbox.Agent.Deadline);

        Assert.True(stats.Memory.Usage > 0, "memory usage is 0");
        Assert.True(stats.Memory.Usage >= Filled, $"memory usage {stats.Memory.Usage} is below the {Filled} bytes written to /dev/shm");
        Assert.True(stats.Memory.Stat.TryGetValue("shmem", out var shmem) && shmem >= (ulong)Filled, $"memory.stat shmem is {shmem}");
        Assert.True(stats.Cpu.UsageUsec > 0, "no CPU time recorded");
        Assert.True(stats.Pids.Current >= 1, "no processes counted");
    }
}

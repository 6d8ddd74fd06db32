using Google.Protobuf.WellKnownTypes;
using KataSharp.Protocol.Agent.V1;
using KataSharp.Tests.Integration.Infrastructure;

namespace KataSharp.Tests.Integration.Library;

/// <summary>A container that outgrows its memory limit is OOM-killed inside the VM, and the host is told it was an OOM kill.</summary>
[Collection(SharedSandboxCollection.Name)]
public sealed class OomTests(SharedSandboxFixture fixture)
{
    private const long Limit = 32L << 20;

    [Fact]
    public async Task Exceeding_the_memory_limit_is_reported_as_an_OOM_kill_with_status_137()
    {
        // busybox tail keeps the last lines of an endless stream without a newline: it grows until killed.
        await using var container = await fixture.StartAsync("oom", ["tail", "/dev/zero"], memoryLimitBytes: Limit);
        var exit = await container.WaitAsync();

        Assert.Equal(137, exit.ExitCode);
        Assert.True(exit.OomKilled, "WaitProcess did not report oom_killed");

        var client = fixture.Sandbox.Agent.Client;
        var oom = await client.GetOomEventAsync(new Empty(), deadline: DateTime.UtcNow + TestEnvironment.OperationTimeout);
        Assert.Equal(container.Id, oom.ContainerId);

        var stats = await client.StatsContainerAsync(new ContainerRequest { ContainerId = container.Id }, deadline: fixture.Sandbox.Agent.Deadline);
        Assert.Equal((ulong)Limit, stats.Memory.Limit);
        Assert.True(stats.MemoryEvents.OomKill >= 1, $"memory.events oom_kill is {stats.MemoryEvents.OomKill}");
    }
}

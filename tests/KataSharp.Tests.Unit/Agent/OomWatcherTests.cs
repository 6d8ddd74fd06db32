using KataSharp.Agent.Containers;
using KataSharp.Agent.Stats;
using Microsoft.Extensions.Logging.Abstractions;

namespace KataSharp.Tests.Unit.Agent;

/// <summary>The OOM queue against a guest that OOMs at will: one pending event per container, and a cap.</summary>
public sealed class OomWatcherTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("ks-oom-").FullName;
    private readonly ContainerRegistry _registry = new();

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task RepeatedKillsOfOneContainer_FoldIntoOnePendingEvent_AndAfterItIsReadANewOneQueues()
    {
        var watcher = new OomWatcher(_registry, NullLogger<OomWatcher>.Instance);
        var app = Add("app");

        for (var kills = 1; kills <= 5; kills++)
        {
            SetKills(app, kills);
            watcher.Poll();
        }

        Assert.Equal("app", await watcher.NextAsync(CancellationToken.None));
        Assert.Equal(4, watcher.Coalesced);
        Assert.Equal(0, watcher.PendingCount);

        SetKills(app, 6);
        watcher.Poll();
        Assert.Equal("app", await watcher.NextAsync(CancellationToken.None));
    }

    [Fact]
    public async Task PastTheCapacity_TheOldestEventsAreDropped_AndCounted()
    {
        var watcher = new OomWatcher(_registry, NullLogger<OomWatcher>.Instance, capacity: 3);
        foreach (var id in new[] { "c0", "c1", "c2", "c3", "c4" })
        {
            SetKills(Add(id), 1);
        }

        watcher.Poll();

        Assert.Equal(2, watcher.DroppedEvents);
        var pending = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            pending.Add(await watcher.NextAsync(CancellationToken.None));
        }

        Assert.Equal(3, pending.Distinct().Count());
        Assert.Equal(0, watcher.PendingCount);
    }

    private Container Add(string id)
    {
        var dir = Directory.CreateDirectory(Path.Combine(_root, id)).FullName;
        var container = new Container(id, dir, isSandbox: false) { CgroupDir = dir };
        Assert.True(_registry.TryAdd(container));
        return container;
    }

    private static void SetKills(Container container, int kills) =>
        File.WriteAllText(Path.Combine(container.CgroupDir!, "memory.events"), $"low 0\nhigh 0\nmax 0\noom 0\noom_kill {kills}\n");
}

using System.Collections.Concurrent;

namespace KataSharp.Agent.Containers;

internal enum ContainerState
{
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

/// <summary>One container in the guest: its bundle, cgroup, init process and execs.</summary>
internal sealed class Container
{
    public Container(string id, string bundleDir, bool isSandbox)
    {
        Id = id;
        BundleDir = bundleDir;
        IsSandbox = isSandbox;
    }

    public string Id { get; }

    public string BundleDir { get; }

    /// <summary>The pod's own (pause) container, whose namespaces the others join.</summary>
    public bool IsSandbox { get; }

    /// <summary>Serialises lifecycle changes (start, pause, remove) of this container.</summary>
    public SemaphoreSlim Lifecycle { get; } = new(1, 1);

    public ContainerState State { get; set; } = ContainerState.Creating;

    /// <summary>Null while the container is being created.</summary>
    public ContainerProcess? Init { get; set; }

    /// <summary>The container's cgroup v2 directory in the guest, when known.</summary>
    public string? CgroupDir { get; set; }

    public ConcurrentDictionary<string, ContainerProcess?> Execs { get; } = new(StringComparer.Ordinal);

    /// <summary>The last oom_kill count the OOM watcher saw.</summary>
    public ulong OomKillsSeen { get; set; }

    public bool IsRemoving { get; set; }
}

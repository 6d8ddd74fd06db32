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

    private readonly Lock _stateGate = new();

    /// <summary>Changed only through <see cref="MoveTo"/>.</summary>
    public ContainerState State { get; private set; } = ContainerState.Creating;

    /// <summary>
    /// Moves to <paramref name="next"/> unless the container has stopped: the init's exit is recorded by the
    /// reaper outside the lifecycle lock, so a pause or resume that finishes after it must not bring a dead
    /// container back to paused or running. Returns whether the state is now <paramref name="next"/>.
    /// </summary>
    public bool MoveTo(ContainerState next)
    {
        lock (_stateGate)
        {
            if (State == ContainerState.Stopped && next != ContainerState.Stopped)
            {
                return false;
            }

            State = next;
            return true;
        }
    }

    /// <summary>Null while the container is being created.</summary>
    public ContainerProcess? Init { get; set; }

    /// <summary>The container's cgroup v2 directory in the guest, when known.</summary>
    public string? CgroupDir { get; set; }

    public ConcurrentDictionary<string, ContainerProcess?> Execs { get; } = new(StringComparer.Ordinal);

    /// <summary>The last oom_kill count the OOM watcher saw.</summary>
    public ulong OomKillsSeen { get; set; }

    public bool IsRemoving { get; set; }
}

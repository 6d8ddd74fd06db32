using System.Collections.Concurrent;

namespace KataSharp.Agent.Containers;

/// <summary>The containers of this sandbox, and lookups that answer NotFound for unknown ids.</summary>
internal sealed class ContainerRegistry
{
    private readonly ConcurrentDictionary<string, Container> _containers = new(StringComparer.Ordinal);

    public IReadOnlyCollection<Container> All => _containers.Values.ToArray();

    public bool TryAdd(Container container) => _containers.TryAdd(container.Id, container);

    public void Remove(string id) => _containers.TryRemove(id, out _);

    public Container Get(string containerId)
    {
        Ids.RequireContainerId(containerId);
        return _containers.TryGetValue(containerId, out var c) && c.State != ContainerState.Creating
            ? c
            : throw AgentErrors.NotFound($"container {containerId} not found");
    }

    /// <summary>The init process (empty exec id) or an exec of a container.</summary>
    public ContainerProcess GetProcess(string containerId, string execId)
    {
        Ids.RequireExecIdOrEmpty(execId);
        var container = Get(containerId);
        if (execId.Length == 0)
        {
            return container.Init ?? throw AgentErrors.NotFound($"container {containerId} has no init process");
        }

        return container.Execs.TryGetValue(execId, out var process) && process is not null
            ? process
            : throw AgentErrors.NotFound($"exec {execId} not found in container {containerId}");
    }

    /// <summary>The running sandbox container's init pid, whose namespaces app containers join.</summary>
    public int? SandboxInitPid()
    {
        var sandbox = _containers.Values.FirstOrDefault(c => c.IsSandbox && c.Init is { HasExited: false });
        return sandbox?.Init?.Pid;
    }
}

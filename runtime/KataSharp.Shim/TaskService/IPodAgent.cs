using Google.Protobuf;
using KataSharp.Protocol.Agent.V1;

namespace KataSharp.Shim.TaskService;

/// <summary>The agent calls the Task service makes about a container as a whole; failures come in the shared error vocabulary.</summary>
internal interface IPodAgent
{
    /// <summary>Waits for the agent's next OOM kill; returns the id of the container it reports, which the caller must check.</summary>
    Task<string> NextOomAsync(CancellationToken cancellationToken);

    Task PauseAsync(string containerId, CancellationToken cancellationToken);

    Task ResumeAsync(string containerId, CancellationToken cancellationToken);

    Task UpdateAsync(string containerId, ByteString resourcesJson, CancellationToken cancellationToken);

    Task<StatsContainerResponse> StatsAsync(string containerId, CancellationToken cancellationToken);

    Task<IReadOnlyList<ProcessInfo>> ListProcessesAsync(string containerId, CancellationToken cancellationToken);
}

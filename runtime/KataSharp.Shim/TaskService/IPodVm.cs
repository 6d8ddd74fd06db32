using Google.Protobuf;
using KataSharp.Protocol.Agent.V1;
using KataSharp.Runtime.Sandbox;

namespace KataSharp.Shim.TaskService;

/// <summary>The pod's VM and the agent in it, as the shim drives them: the sandbox seam that tests fake.</summary>
internal interface IPodVm : IAsyncDisposable
{
    string Id { get; }

    /// <summary>The task pid containerd and CRI see for every container.</summary>
    uint Pid { get; }

    /// <summary>Completes when the VM is gone, with a description of how it ended.</summary>
    Task<string> Exited { get; }

    /// <exception cref="SandboxException">The guest refused or failed.</exception>
    Task<IGuestContainer> CreateContainerAsync(ContainerOptions options, CancellationToken cancellationToken);

    /// <summary>Waits for the agent's next OOM kill; returns the id of the container it reports.</summary>
    Task<string> NextOomAsync(CancellationToken cancellationToken);

    Task PauseAsync(string containerId, CancellationToken cancellationToken);

    Task ResumeAsync(string containerId, CancellationToken cancellationToken);

    Task UpdateAsync(string containerId, ByteString resourcesJson, CancellationToken cancellationToken);

    Task<StatsContainerResponse> StatsAsync(string containerId, CancellationToken cancellationToken);

    Task<IReadOnlyList<ProcessInfo>> ListProcessesAsync(string containerId, CancellationToken cancellationToken);
}

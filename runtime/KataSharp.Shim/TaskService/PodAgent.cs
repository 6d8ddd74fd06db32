using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using KataSharp.Protocol.Agent.V1;
using KataSharp.Runtime.Agent;

namespace KataSharp.Shim.TaskService;

/// <summary>The pod-level agent calls over one agent connection, each answer named as the guest agent's.</summary>
internal sealed class PodAgent : IPodAgent
{
    private readonly AgentConnection _agent;

    public PodAgent(AgentConnection agent) => _agent = agent;

    public async Task<string> NextOomAsync(CancellationToken cancellationToken) =>
        (await SandboxCall.Agent(() => _agent.Client.GetOomEventAsync(new Empty(), cancellationToken: cancellationToken).ResponseAsync).ConfigureAwait(false)).ContainerId;

    public Task PauseAsync(string containerId, CancellationToken cancellationToken) =>
        SandboxCall.Agent(() => _agent.Client.PauseContainerAsync(new ContainerRequest { ContainerId = containerId }, deadline: _agent.Deadline, cancellationToken: cancellationToken).ResponseAsync);

    public Task ResumeAsync(string containerId, CancellationToken cancellationToken) =>
        SandboxCall.Agent(() => _agent.Client.ResumeContainerAsync(new ContainerRequest { ContainerId = containerId }, deadline: _agent.Deadline, cancellationToken: cancellationToken).ResponseAsync);

    public Task UpdateAsync(string containerId, ByteString resourcesJson, CancellationToken cancellationToken) =>
        SandboxCall.Agent(() => _agent.Client.UpdateContainerAsync(new UpdateContainerRequest { ContainerId = containerId, ResourcesJson = resourcesJson },
            deadline: _agent.Deadline, cancellationToken: cancellationToken).ResponseAsync);

    public Task<StatsContainerResponse> StatsAsync(string containerId, CancellationToken cancellationToken) =>
        SandboxCall.Agent(() => _agent.StatsContainerAsync(containerId, cancellationToken));

    public Task<IReadOnlyList<ProcessInfo>> ListProcessesAsync(string containerId, CancellationToken cancellationToken) =>
        SandboxCall.Agent(() => _agent.ListProcessesAsync(containerId, cancellationToken));
}

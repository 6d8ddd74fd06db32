using System.Net;
using Google.Protobuf;
using KataSharp.Runtime.Agent;

namespace KataSharp.Shim.PortForward;

/// <summary>The guest's loopback through the agent's port-forward RPCs.</summary>
internal sealed class AgentGuestLoopback : IGuestLoopback
{
    private readonly AgentConnection _agent;

    public AgentGuestLoopback(AgentConnection agent) => _agent = agent;

    public Task<ulong> OpenAsync(IPEndPoint target, CancellationToken cancellationToken) => _agent.OpenPortForwardAsync(target, cancellationToken);

    public async Task<ReadOnlyMemory<byte>> ReadAsync(ulong connectionId, int maxBytes, CancellationToken cancellationToken) =>
        (await _agent.ReadPortForwardAsync(connectionId, (uint)maxBytes, cancellationToken).ConfigureAwait(false)).Data.Memory;

    public Task WriteAsync(ulong connectionId, ReadOnlyMemory<byte> data, CancellationToken cancellationToken) =>
        _agent.WritePortForwardAsync(connectionId, ByteString.CopyFrom(data.Span), cancellationToken);

    public Task ShutdownWriteAsync(ulong connectionId, CancellationToken cancellationToken) =>
        _agent.ClosePortForwardAsync(connectionId, writeOnly: true, cancellationToken);

    public Task CloseAsync(ulong connectionId, CancellationToken cancellationToken) =>
        _agent.ClosePortForwardAsync(connectionId, writeOnly: false, cancellationToken);
}

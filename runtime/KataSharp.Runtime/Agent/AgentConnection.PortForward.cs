using System.Net;
using Google.Protobuf;
using KataSharp.Protocol.Agent.V1;

namespace KataSharp.Runtime.Agent;

/// <summary>
/// The port-forward calls (issue 10). Open and Close carry the request deadline; Read and Write block by
/// design (a quiet server, a server that does not read) and end with the caller's token, which the bridge
/// cancels when its connection ends, followed by a Close that releases the guest's side.
/// </summary>
public sealed partial class AgentConnection
{
    /// <returns>The guest's id for the connection to <paramref name="target"/> on its loopback.</returns>
    public async Task<ulong> OpenPortForwardAsync(IPEndPoint target, CancellationToken cancellationToken) =>
        (await Guard(Client.OpenPortForwardAsync(new OpenPortForwardRequest { Address = target.Address.ToString(), Port = (uint)target.Port },
            deadline: Deadline, cancellationToken: cancellationToken), cancellationToken).ConfigureAwait(false)).ConnectionId;

    /// <returns>Up to <paramref name="maxBytes"/> bytes, checked; an empty reply with <c>Eof</c> when the guest side closed.</returns>
    public async Task<ReadPortForwardResponse> ReadPortForwardAsync(ulong connectionId, uint maxBytes, CancellationToken cancellationToken) =>
        AgentReplies.Validate(await Guard(Client.ReadPortForwardAsync(new ReadPortForwardRequest { ConnectionId = connectionId, MaxBytes = maxBytes },
            cancellationToken: cancellationToken), cancellationToken).ConfigureAwait(false), maxBytes);

    public async Task WritePortForwardAsync(ulong connectionId, ByteString data, CancellationToken cancellationToken) =>
        await Guard(Client.WritePortForwardAsync(new WritePortForwardRequest { ConnectionId = connectionId, Data = data },
            cancellationToken: cancellationToken), cancellationToken).ConfigureAwait(false);

    /// <param name="writeOnly">Only shut down the guest socket's sending side (the host side reached EOF).</param>
    public async Task ClosePortForwardAsync(ulong connectionId, bool writeOnly, CancellationToken cancellationToken) =>
        await Guard(Client.ClosePortForwardAsync(new ClosePortForwardRequest { ConnectionId = connectionId, WriteOnly = writeOnly },
            deadline: Deadline, cancellationToken: cancellationToken), cancellationToken).ConfigureAwait(false);
}

using Grpc.Core;
using KataSharp.Agent.Stats;
using KataSharp.Protocol.Agent.V1;

namespace KataSharp.Agent.Service;

/// <summary>The metrics RPCs (issue 13): what the shim's metrics endpoint reports of the guest itself.</summary>
internal sealed partial class AgentService
{
    public override Task<GuestMemoryResponse> GetGuestMemory(GuestMemoryRequest request, ServerCallContext context) =>
        Guard("GetGuestMemory", context, async () => MemInfoParser.Parse(await File.ReadAllTextAsync(MemInfoParser.Path, context.CancellationToken).ConfigureAwait(false)));
}

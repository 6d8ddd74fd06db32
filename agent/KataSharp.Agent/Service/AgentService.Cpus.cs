using Grpc.Core;
using KataSharp.Protocol.Agent.V1;

namespace KataSharp.Agent.Service;

/// <summary>The vCPU headroom RPC (issue 10): the shim onlines vCPUs before it writes a CPU limit that needs them.</summary>
internal sealed partial class AgentService
{
    public override Task<OnlineCpusResponse> OnlineCpus(OnlineCpusRequest request, ServerCallContext context) =>
        Guard("OnlineCpus", context, () => _cpus.OnlineAsync(request.Count, context.CancellationToken));
}

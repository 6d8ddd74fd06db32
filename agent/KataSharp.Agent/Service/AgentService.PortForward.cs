using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using KataSharp.Agent.PortForward;
using KataSharp.Protocol.Agent.V1;

namespace KataSharp.Agent.Service;

/// <summary>The port-forward RPCs (issue 10): the guest end of the bridge the shim runs from the pod's namespace.</summary>
internal sealed partial class AgentService
{
    private readonly LoopbackConnections _portForwards = new();

    public override Task<OpenPortForwardResponse> OpenPortForward(OpenPortForwardRequest request, ServerCallContext context) =>
        Guard("OpenPortForward", context, async () => new OpenPortForwardResponse
        {
            ConnectionId = await _portForwards.OpenAsync(request, context.CancellationToken).ConfigureAwait(false),
        });

    public override Task<ReadPortForwardResponse> ReadPortForward(ReadPortForwardRequest request, ServerCallContext context) =>
        Guard("ReadPortForward", context, () => _portForwards.ReadAsync(request, context.CancellationToken));

    public override Task<Empty> WritePortForward(WritePortForwardRequest request, ServerCallContext context) =>
        Guard("WritePortForward", context, async () =>
        {
            await _portForwards.WriteAsync(request, context.CancellationToken).ConfigureAwait(false);
            return EmptyResponse;
        });

    public override Task<Empty> ClosePortForward(ClosePortForwardRequest request, ServerCallContext context) =>
        Guard("ClosePortForward", context, () =>
        {
            _portForwards.Close(request);
            return Task.FromResult(EmptyResponse);
        });
}

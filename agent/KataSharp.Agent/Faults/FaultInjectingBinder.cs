using Grpc.Core;
using KataSharp.Protocol.Agent.V1;
using AgentApi = KataSharp.Protocol.Agent.V1.Agent;

namespace KataSharp.Agent.Faults;

/// <summary>
/// Binds the agent's methods through <see cref="GuestFault"/>: each call first passes the fault, and a started
/// workload container (told apart from the sandbox's own by <paramref name="isWorkload"/>) can trip it.
/// </summary>
internal sealed class FaultInjectingBinder(ServiceBinderBase inner, GuestFault fault, Func<string, bool> isWorkload) : ServiceBinderBase
{
    public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, UnaryServerMethod<TRequest, TResponse>? handler)
    {
        if (handler is null || fault.Kind == GuestFaultKind.None)
        {
            inner.AddMethod(method, handler);
            return;
        }

        inner.AddMethod(method, async (request, context) =>
        {
            await fault.BeforeCallAsync(context.CancellationToken).ConfigureAwait(false);
            var response = await handler(request, context).ConfigureAwait(false);
            if (method.Name == nameof(AgentApi.AgentBase.StartContainer) && request is ContainerRequest started && isWorkload(started.ContainerId))
            {
                fault.WorkloadStarted(started.ContainerId);
            }

            return response;
        });
    }
}

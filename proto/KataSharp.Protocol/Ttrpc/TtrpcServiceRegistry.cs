using System.Collections.Frozen;
using Google.Protobuf;
using Grpc.Core;

namespace KataSharp.Protocol.Ttrpc;

/// <summary>A unary handler working on encoded payloads.</summary>
public delegate Task<byte[]> TtrpcHandler(byte[] payload, ServerCallContext context);

/// <summary>The shape every ttrpc method reduces to: an encoded request in, an answer to encode into the frame out.</summary>
internal delegate Task<TtrpcPayload> TtrpcMethodHandler(byte[] payload, ServerCallContext context);

/// <summary>
/// Collects the methods of Grpc.Tools-generated services: pass it to the generated
/// <c>BindService(ServiceBinderBase, ...Base)</c>. Only unary methods can be served over ttrpc.
/// </summary>
public sealed class TtrpcServiceRegistry : ServiceBinderBase
{
    private readonly Dictionary<(string Service, string Method), TtrpcMethodHandler> _handlers = new();
    private FrozenDictionary<(string Service, string Method), TtrpcMethodHandler>? _frozen;

    public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, UnaryServerMethod<TRequest, TResponse>? handler)
    {
        if (handler is null)
        {
            return;
        }

        Add(method.ServiceName, method.Name, async (payload, context) =>
        {
            var request = TtrpcMarshalling.Deserialize(method.RequestMarshaller, payload);
            var response = await handler(request, context).ConfigureAwait(false);
            // Grpc.Tools' messages are serialised into the frame itself; anything else goes through its marshaller.
            return response is IMessage message ? TtrpcPayload.Of(message) : TtrpcPayload.Of(TtrpcMarshalling.Serialize(method.ResponseMarshaller, response));
        });
    }

    // Streaming methods have no ttrpc v1 equivalent; leaving them unregistered answers Unimplemented.
    public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ClientStreamingServerMethod<TRequest, TResponse>? handler)
    {
    }

    public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ServerStreamingServerMethod<TRequest, TResponse>? handler)
    {
    }

    public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, DuplexStreamingServerMethod<TRequest, TResponse>? handler)
    {
    }

    /// <summary>Serves every method of <paramref name="service"/> under a second name as well, such as containerd.task.v3.Task.</summary>
    public void AddAlias(string alias, string service)
    {
        foreach (var ((svc, method), handler) in _handlers.ToArray())
        {
            if (svc == service)
            {
                Add(alias, method, handler);
            }
        }
    }

    public void Add(string service, string method, TtrpcHandler handler) =>
        Add(service, method, async (payload, context) => TtrpcPayload.Of(await handler(payload, context).ConfigureAwait(false)));

    private void Add(string service, string method, TtrpcMethodHandler handler)
    {
        if (_frozen is not null)
        {
            throw new InvalidOperationException("methods must be registered before the server starts");
        }

        _handlers[(service, method)] = handler;
    }

    public bool HasService(string service) => Handlers.Keys.Any(k => k.Service == service);

    internal TtrpcMethodHandler? Find(string service, string method) =>
        Handlers.TryGetValue((service, method), out var handler) ? handler : null;

    private FrozenDictionary<(string Service, string Method), TtrpcMethodHandler> Handlers => _frozen ??= _handlers.ToFrozenDictionary();
}

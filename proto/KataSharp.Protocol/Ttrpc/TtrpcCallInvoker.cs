using Google.Protobuf;
using Grpc.Core;
using KataSharp.Protocol.Errors;

namespace KataSharp.Protocol.Ttrpc;

/// <summary>Runs the Grpc.Tools-generated clients over ttrpc. Only unary methods exist in ttrpc v1.</summary>
public sealed class TtrpcCallInvoker : CallInvoker
{
    private readonly TtrpcClient _client;

    public TtrpcCallInvoker(TtrpcClient client) => _client = client;

    public override TResponse BlockingUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) =>
        InvokeAsync(method, options, request).GetAwaiter().GetResult();

    public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request)
    {
        var response = InvokeAsync(method, options, request);
        return new AsyncUnaryCall<TResponse>(
            response,
            Task.FromResult(new Metadata()),
            () => response.IsCompletedSuccessfully ? Status.DefaultSuccess : (response.Exception?.InnerException as RpcException)?.Status ?? new Status(StatusCode.Unknown, "call not complete"),
            () => new Metadata(),
            () => { });
    }

    public override AsyncServerStreamingCall<TResponse> AsyncServerStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) =>
        throw new RpcException(new Status(StatusCode.Unimplemented, "ttrpc supports unary calls only"));

    public override AsyncClientStreamingCall<TRequest, TResponse> AsyncClientStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options) =>
        throw new RpcException(new Status(StatusCode.Unimplemented, "ttrpc supports unary calls only"));

    public override AsyncDuplexStreamingCall<TRequest, TResponse> AsyncDuplexStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options) =>
        throw new RpcException(new Status(StatusCode.Unimplemented, "ttrpc supports unary calls only"));

    private async Task<TResponse> InvokeAsync<TRequest, TResponse>(Method<TRequest, TResponse> method, CallOptions options, TRequest request)
        where TRequest : class
        where TResponse : class
    {
        var payload = TtrpcMarshalling.Serialize(method.RequestMarshaller, request);
        var response = await _client.CallAsync(method.ServiceName, method.Name, payload, options.Deadline, options.Headers, options.CancellationToken).ConfigureAwait(false);
        try
        {
            return TtrpcMarshalling.Deserialize(method.ResponseMarshaller, response);
        }
        catch (InvalidProtocolBufferException e)
        {
            // The peer answered, but not with the message it owes: its fault, and this call's only.
            throw Errdefs.Internal($"{method.FullName}: malformed response: {e.Message}");
        }
    }
}

using System.Collections.Concurrent;
using System.Diagnostics;
using Grpc.Core;
using Grpc.Core.Interceptors;

namespace KataSharp.Runtime.Metrics;

/// <summary>
/// Every agent call this process makes, counted by method and status code and timed by method: the
/// interceptor sits on the one call invoker every agent connection is built with, so no call escapes it.
/// </summary>
public sealed class AgentRpcMetrics : Interceptor
{
    /// <summary>The process's own: a shim talks to one agent, whose calls all land here.</summary>
    public static AgentRpcMetrics Process { get; } = new();

    private readonly ConcurrentDictionary<(string Method, StatusCode Code), long> _counts = new();
    private readonly ConcurrentDictionary<string, LatencyHistogram> _latencies = new(StringComparer.Ordinal);

    public void Observe(string method, StatusCode code, TimeSpan elapsed)
    {
        _counts.AddOrUpdate((method, code), 1, static (_, n) => n + 1);
        _latencies.GetOrAdd(method, static _ => new LatencyHistogram()).Observe(elapsed.TotalSeconds);
    }

    public void WriteTo(MetricsText text)
    {
        text.Family("katasharp_agent_rpc_requests_total", MetricType.Counter, "Agent RPCs the host made, by method and gRPC status code.");
        foreach (var ((method, code), count) in _counts.OrderBy(e => e.Key.Method, StringComparer.Ordinal).ThenBy(e => e.Key.Code))
        {
            text.Sample("katasharp_agent_rpc_requests_total", count, ("method", method), ("code", code.ToString()));
        }

        text.Family("katasharp_agent_rpc_duration_seconds", MetricType.Histogram, "How long agent RPCs took, by method (WaitProcess and ReadOutput block by design).");
        foreach (var (method, histogram) in _latencies.OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            text.Histogram("katasharp_agent_rpc_duration_seconds", histogram.Snapshot(), ("method", method));
        }
    }

    public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(TRequest request, ClientInterceptorContext<TRequest, TResponse> context,
        AsyncUnaryCallContinuation<TRequest, TResponse> continuation)
    {
        var clock = Stopwatch.StartNew();
        var call = continuation(request, context);
        return new AsyncUnaryCall<TResponse>(TimeAsync(call.ResponseAsync, context.Method.Name, clock), call.ResponseHeadersAsync, call.GetStatus, call.GetTrailers, call.Dispose);
    }

    private async Task<TResponse> TimeAsync<TResponse>(Task<TResponse> response, string method, Stopwatch clock)
    {
        try
        {
            var result = await response.ConfigureAwait(false);
            Observe(method, StatusCode.OK, clock.Elapsed);
            return result;
        }
        catch (RpcException e)
        {
            Observe(method, e.StatusCode, clock.Elapsed);
            throw;
        }
    }
}

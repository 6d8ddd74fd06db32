using System.Diagnostics;
using System.Net.Sockets;
using KataSharp.Protocol.Ttrpc;

namespace KataSharp.Benchmarks;

/// <summary>Round trips of a small unary ttrpc call over a Unix socket: one at a time, and 16 in flight.</summary>
internal static class TtrpcBenchmark
{
    private const int Warmup = 2_000;
    private const int Sequential = 20_000;
    private const int Concurrent = 16;
    private const int ConcurrentCalls = 50_000;

    public static async Task RunAsync()
    {
        var dir = Directory.CreateTempSubdirectory("ks-bench-").FullName;
        var path = Path.Combine(dir, "ttrpc.sock");
        using var stop = new CancellationTokenSource();
        var registry = new TtrpcServiceRegistry();
        registry.Add("bench.Echo", "Echo", (payload, _) => Task.FromResult(payload));
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen();
        var serving = new TtrpcServer(registry).ListenAsync(listener, stop.Token);
        try
        {
            await using var client = await TtrpcClient.ConnectUnixAsync(path, CancellationToken.None);
            var payload = new byte[64];
            for (var i = 0; i < Warmup; i++)
            {
                await client.CallAsync("bench.Echo", "Echo", payload);
            }

            var latencies = new double[Sequential];
            var total = Stopwatch.StartNew();
            for (var i = 0; i < Sequential; i++)
            {
                var start = Stopwatch.GetTimestamp();
                await client.CallAsync("bench.Echo", "Echo", payload);
                latencies[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
            }

            total.Stop();
            Array.Sort(latencies);
            Console.WriteLine($"ttrpc unary 64 B, unix socket, 1 in flight:  {Sequential / total.Elapsed.TotalSeconds,10:N0} round trips/s   p50 {Stats.Percentile(latencies, 50),7:N1} us   p99 {Stats.Percentile(latencies, 99),7:N1} us");

            var next = -1;
            var concurrentLatencies = new double[ConcurrentCalls];
            total.Restart();
            await Task.WhenAll(Enumerable.Range(0, Concurrent).Select(async _ =>
            {
                int i;
                while ((i = Interlocked.Increment(ref next)) < ConcurrentCalls)
                {
                    var start = Stopwatch.GetTimestamp();
                    await client.CallAsync("bench.Echo", "Echo", payload);
                    concurrentLatencies[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
                }
            }));
            total.Stop();
            Array.Sort(concurrentLatencies);
            Console.WriteLine($"ttrpc unary 64 B, unix socket, {Concurrent} in flight: {ConcurrentCalls / total.Elapsed.TotalSeconds,10:N0} round trips/s   p50 {Stats.Percentile(concurrentLatencies, 50),7:N1} us   p99 {Stats.Percentile(concurrentLatencies, 99),7:N1} us");
        }
        finally
        {
            stop.Cancel();
            listener.Close();
            await serving;
            Directory.Delete(dir, recursive: true);
        }
    }
}

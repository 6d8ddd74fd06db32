using System.Diagnostics;
using KataSharp.Tests.EndToEnd;

namespace KataSharp.Benchmarks;

/// <summary>
/// Issue 11's density: the largest number of idle katasharp pods, up to 32, that each still answer an exec within
/// 10 s on this machine, and the host PSS at that count. Pods are added one at a time; after each, every pod is
/// asked (all of them, since a new VM can starve the old ones), and the first miss ends the run.
/// </summary>
internal static class DensityBenchmark
{
    private const int MaxPods = 32;
    private static readonly TimeSpan ExecBudget = TimeSpan.FromSeconds(10);

    public static async Task RunAsync(string build)
    {
        Environment.SetEnvironmentVariable("KATASHARP_BUILD", build);
        await using var testbed = await ContainerdTestbed.StartAsync();
        using var cri = new CriClient(testbed.CriSocket);
        long Total() => HostMemory.PssOf(testbed.StateDir, "qemu-system") + HostMemory.PssOf("containerd-shim-katasharp-v2", testbed.Daemon.Address);

        var pods = new List<BenchPod>();
        var answering = 0;
        long pssAtCount = 0;
        string? miss = null;
        try
        {
            while (pods.Count < MaxPods && miss is null)
            {
                pods.Add(await MemBenchmark.StartIdleAsync(cri, "katasharp", $"density-{pods.Count}"));
                var slowest = TimeSpan.Zero;
                foreach (var pod in pods)
                {
                    var clock = Stopwatch.StartNew();
                    try
                    {
                        await pod.ExecAsync(cri, ExecBudget, "true");
                        slowest = clock.Elapsed > slowest ? clock.Elapsed : slowest;
                    }
                    catch (Exception e) when (e is Grpc.Core.RpcException or InvalidOperationException)
                    {
                        miss = $"pod {pods.IndexOf(pod) + 1} of {pods.Count} did not answer within {ExecBudget.TotalSeconds:0} s ({e.Message})";
                        break;
                    }
                }

                if (miss is null)
                {
                    answering = pods.Count;
                    pssAtCount = Total();
                    Console.WriteLine($"  {answering,2} pods: every exec answered, slowest {slowest.TotalMilliseconds,6:N0} ms, PSS {HostMemory.MiB(pssAtCount)} ({HostMemory.MiB(pssAtCount / answering)} per pod)");
                }
            }
        }
        finally
        {
            foreach (var pod in pods)
            {
                await pod.DisposeAsync();
            }
        }

        Console.WriteLine($"density under {ShimBenchmark.Accelerator()}: {answering} idle pods each answer an exec within {ExecBudget.TotalSeconds:0} s" +
            (miss is null ? $" (the most tried, {MaxPods})" : $"; then {miss}") +
            $"; host PSS at {answering}: {HostMemory.MiB(pssAtCount)}, {HostMemory.MiB(answering == 0 ? 0 : pssAtCount / answering)} per pod");
    }
}

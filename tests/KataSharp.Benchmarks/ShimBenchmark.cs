using System.Diagnostics;
using KataSharp.Tests.EndToEnd;

namespace KataSharp.Benchmarks;

/// <summary>
/// Through containerd's CRI: RunPodSandbox + CreateContainer + StartContainer with the katasharp
/// handler against runc on the same containerd, and the host memory (PSS) each pod's shim costs.
/// </summary>
internal static class ShimBenchmark
{
    private const int Rounds = 3;

    public static async Task RunAsync(string build)
    {
        Environment.SetEnvironmentVariable("KATASHARP_BUILD", build);
        await using var testbed = await ContainerdTestbed.StartAsync();
        using var cri = new CriClient(testbed.CriSocket);
        var results = new Dictionary<string, (List<double> Latencies, List<long> ShimPss, List<long> VmPss)>();
        foreach (var handler in new[] { "runc", "katasharp" })
        {
            var latencies = new List<double>();
            var shimPss = new List<long>();
            var vmPss = new List<long>();
            // One warm-up round per handler: the first pod pays for unpacking the images.
            for (var round = -1; round < Rounds; round++)
            {
                await using var pod = await BenchPod.StartAsync(cri, handler, $"bench-{handler}-{round + 1}", ["sleep", "1000"]);
                if (round >= 0)
                {
                    latencies.Add(pod.Ready.TotalMilliseconds);
                    await Task.Delay(TimeSpan.FromSeconds(2));
                    var shimName = handler == "runc" ? "containerd-shim-runc-v2" : "containerd-shim-katasharp-v2";
                    shimPss.Add(HostMemory.PssOf(shimName, testbed.Daemon.Address));
                    vmPss.Add(HostMemory.PssOf(testbed.StateDir, "qemu-system"));
                }
            }

            results[handler] = (latencies, shimPss, vmPss);
        }

        var runc = Median(results["runc"].Latencies);
        var kata = Median(results["katasharp"].Latencies);
        Console.WriteLine($"CRI RunPodSandbox+CreateContainer+StartContainer, median of {Rounds} (after one warm-up):");
        Console.WriteLine($"  runc:       {runc,8:N0} ms");
        Console.WriteLine($"  katasharp:  {kata,8:N0} ms   (ratio katasharp/runc {kata / runc:N1}x; the VM boots under {Accelerator()})");
        Console.WriteLine($"host memory (PSS) per pod, one idle busybox pod:");
        Console.WriteLine($"  containerd-shim-runc-v2:       {Median(results["runc"].ShimPss) / 1024.0,8:N1} MiB");
        Console.WriteLine($"  containerd-shim-katasharp-v2:  {Median(results["katasharp"].ShimPss) / 1024.0,8:N1} MiB   (ratio {(double)Median(results["katasharp"].ShimPss) / Median(results["runc"].ShimPss):N2}x)");
        Console.WriteLine($"  qemu (the pod's VM):           {Median(results["katasharp"].VmPss) / 1024.0,8:N1} MiB");
    }

    // /sys/module/kvm_pvm is a directory: a PVM host, where the runtime picks TCG.
    internal static string Accelerator() => Directory.Exists("/sys/module/kvm_pvm") || !File.Exists("/dev/kvm") ? "TCG emulation" : "KVM";

    private static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);

    private static long Median(List<long> values) => values.Order().ElementAt(values.Count / 2);
}

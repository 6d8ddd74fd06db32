using KataSharp.Tests.EndToEnd;

namespace KataSharp.Benchmarks;

/// <summary>
/// Issue 11's memory figures through containerd's CRI: host PSS per idle pod (QEMU + shim; no other helper runs
/// per pod here) for 1 and 8 katasharp pods, runc's shim for comparison, the guest's own memory use, and what
/// free-page reporting hands back after a container fills and frees 200 MiB.
/// </summary>
internal static class MemBenchmark
{
    private const int ManyPods = 8;
    private const long FilledMiB = 200;
    private const int ExecRuns = 100;

    /// <summary>How long a shim is left alone before it counts as idle: three of its 5 s heap-trim periods.</summary>
    private static readonly TimeSpan ShimIdle = TimeSpan.FromSeconds(15);

    public static async Task RunAsync(string build)
    {
        Environment.SetEnvironmentVariable("KATASHARP_BUILD", build);
        await using var testbed = await ContainerdTestbed.StartAsync();
        using var cri = new CriClient(testbed.CriSocket);
        long RuncShims() => HostMemory.PssOf("containerd-shim-runc-v2", testbed.Daemon.Address);
        long KataShims() => HostMemory.PssOf("containerd-shim-katasharp-v2", testbed.Daemon.Address);
        long Vms() => HostMemory.PssOf(testbed.StateDir, "qemu-system");

        // Warm-up: the first pod of each handler pays for unpacking the images.
        foreach (var handler in new[] { "runc", "katasharp" })
        {
            await (await StartIdleAsync(cri, handler, $"mem-warmup-{handler}")).DisposeAsync();
        }

        var runc = await StartIdleAsync(cri, "runc", "mem-runc");
        var runcShim = await HostMemory.SettledAsync(RuncShims);
        var runcSplit = Split("containerd-shim-runc-v2", testbed.Daemon.Address);
        var runcThreads = ShimThreads("containerd-shim-runc-v2", testbed.Daemon.Address);
        await runc.DisposeAsync();

        var pods = new List<BenchPod> { await StartIdleAsync(cri, "katasharp", "mem-0") };
        try
        {
            var vm1 = await HostMemory.SettledAsync(Vms);
            await Task.Delay(ShimIdle);
            var shim1 = KataShims();
            var shimSplit = Split("containerd-shim-katasharp-v2", testbed.Daemon.Address);
            var shimThreads = ShimThreads("containerd-shim-katasharp-v2", testbed.Daemon.Address);
            var meminfo = Meminfo(await pods[0].ExecAsync(cri, TimeSpan.FromMinutes(1), "cat", "/proc/meminfo"));

            // A long-lived shim serves execs and stats for the pod's life: its PSS after a run of execs shows whether its heap settles.
            for (var i = 0; i < ExecRuns; i++)
            {
                await pods[0].ExecAsync(cri, TimeSpan.FromMinutes(1), "true");
            }

            await Task.Delay(ShimIdle);
            var shimAfterExecs = KataShims();

            // dd's one buffer is filled from /dev/zero and freed when dd exits.
            await pods[0].ExecAsync(cri, TimeSpan.FromMinutes(2), "dd", "if=/dev/zero", "of=/dev/null", $"bs={FilledMiB}M", "count=1");
            var afterFree = Vms();
            var reported = await HostMemory.SettledAsync(Vms);

            for (var i = 1; i < ManyPods; i++)
            {
                pods.Add(await StartIdleAsync(cri, "katasharp", $"mem-{i}"));
            }

            var vm8 = await HostMemory.SettledAsync(Vms);
            await Task.Delay(ShimIdle);
            var shim8 = KataShims();

            Console.WriteLine($"host memory (PSS, smaps_rollup) per idle busybox pod, the VM under {ShimBenchmark.Accelerator()}:");
            Console.WriteLine($"  runc:              shim {HostMemory.MiB(runcShim)}, {runcThreads} threads, {runcSplit}");
            Console.WriteLine($"  katasharp, 1 pod:  QEMU {HostMemory.MiB(vm1)} + shim {HostMemory.MiB(shim1)} = {HostMemory.MiB(vm1 + shim1)}   (shim/runc's shim {(double)shim1 / runcShim:N2}x; shim {shimThreads} threads, {shimSplit})");
            Console.WriteLine($"  katasharp, 1 pod after {ExecRuns} execs: shim {HostMemory.MiB(shimAfterExecs)} ({HostMemory.MiB(shimAfterExecs - shim1)} more than idle)");
            Console.WriteLine($"  katasharp, {ManyPods} pods: QEMU {HostMemory.MiB(vm8 / ManyPods)} + shim {HostMemory.MiB(shim8 / ManyPods)} = {HostMemory.MiB((vm8 + shim8) / ManyPods)} per pod");
            Console.WriteLine($"guest memory (the container's /proc/meminfo, i.e. the guest kernel's): MemTotal {HostMemory.MiB(meminfo["MemTotal"])}, " +
                $"used (MemTotal - MemAvailable) {HostMemory.MiB(meminfo["MemTotal"] - meminfo["MemAvailable"])}, MemFree {HostMemory.MiB(meminfo["MemFree"])}");
            Console.WriteLine($"free-page reporting, one pod filling and freeing {FilledMiB} MiB: QEMU {HostMemory.MiB(vm1)} idle, {HostMemory.MiB(afterFree)} at the free, {HostMemory.MiB(reported)} settled after it");
        }
        finally
        {
            foreach (var pod in pods)
            {
                await pod.DisposeAsync();
            }
        }
    }

    /// <summary>The threads of the first live process whose command line mentions every marker.</summary>
    private static string ShimThreads(params string[] markers) =>
        HostResources.ProcessesMentioning(markers[0]).FirstOrDefault(p => markers.All(m => p.Contains(m, StringComparison.Ordinal))) is { } process
            ? File.ReadLines($"/proc/{process.Split(':')[0]}/status").FirstOrDefault(l => l.StartsWith("Threads:", StringComparison.Ordinal))?.Split('\t').Last() ?? "?"
            : "?";

    /// <summary>The PSS of the shims whose command line mentions every marker, split into anonymous memory (heap, stacks) and file pages (the binary).</summary>
    private static string Split(params string[] markers) =>
        $"anon {HostMemory.MiB(HostMemory.RollupOf("Pss_Anon", markers)).Trim()} + file {HostMemory.MiB(HostMemory.RollupOf("Pss_File", markers)).Trim()}";

    /// <summary>/proc/meminfo's fields in KiB.</summary>
    internal static Dictionary<string, long> Meminfo(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(f => f.Length >= 2 && long.TryParse(f[1], out _))
            .ToDictionary(f => f[0].TrimEnd(':'), f => long.Parse(f[1]));

    /// <summary>An idle pod: one busybox container that sleeps.</summary>
    internal static Task<BenchPod> StartIdleAsync(CriClient cri, string handler, string name) => BenchPod.StartAsync(cri, handler, name, ["sleep", "1000000"]);
}

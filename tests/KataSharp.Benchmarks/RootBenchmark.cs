using System.Diagnostics;
using System.Globalization;

namespace KataSharp.Benchmarks;

/// <summary>
/// The guest's root as a read-only erofs image on a virtio-blk disk (<c>guest.root: image</c>) against the initramfs
/// unpacked into guest RAM at every boot (<c>guest.root: initramfs</c>), with the same kernel and build. First the CLI's
/// <c>run -- true</c>, the two kinds taking turns for <c>KATASHARP_BENCH_RUNS</c> rounds (default 3) so that a machine
/// that slows down weighs on both alike; then, for each kind in turn, <c>KATASHARP_BENCH_PODS</c> (default 8) kept
/// sandboxes at once: QEMU's settled PSS per VM (the image's pages sit once in the host's page cache, shared by every
/// VM that maps them; the initramfs is a copy in each guest's RAM) and the guest's own memory use.
/// </summary>
internal static class RootBenchmark
{
    private const int Rounds = 3;
    private const int Pods = 8;
    private static readonly TimeSpan Guard = TimeSpan.FromMinutes(5);
    private static readonly string[] Kinds = ["image", "initramfs"];

    public static async Task RunAsync(string build)
    {
        var rounds = EnvInt("KATASHARP_BENCH_RUNS", Rounds);
        var pods = EnvInt("KATASHARP_BENCH_PODS", Pods);
        var image = Path.Combine(Path.GetFullPath(build), "guest", "root.img");
        if (!File.Exists(image))
        {
            Console.WriteLine($"root benchmark skipped: {image} is missing (only our kernel boots a root image; run ./build.sh image)");
            return;
        }

        var sandboxes = new Dictionary<string, PrivateSandbox>();
        try
        {
            foreach (var kind in Kinds)
            {
                sandboxes[kind] = await PrivateSandbox.CreateAsync(build, $"ks-bench-root-{kind}-", guest: $"root: {kind}");
            }

            Console.WriteLine($"guest root benchmark: image against initramfs, {rounds} rounds of `katasharp run --network none -- true`, then {pods} kept sandboxes of each, " +
                $"{Environment.ProcessorCount} host CPUs, the VM under {ShimBenchmark.Accelerator()}");
            var runs = Kinds.ToDictionary(k => k, _ => new List<double>());
            await sandboxes["image"].RunAsync(Guard, "run", "--network", "none", "--", "true"); // warm-up: the busybox image's first unpack
            for (var round = 1; round <= rounds; round++)
            {
                foreach (var kind in Kinds)
                {
                    var clock = Stopwatch.StartNew();
                    await sandboxes[kind].RunAsync(Guard, "run", "--network", "none", "--", "true");
                    runs[kind].Add(clock.Elapsed.TotalMilliseconds);
                    Console.WriteLine($"    round {round}, {kind}: {clock.Elapsed.TotalMilliseconds:F0} ms");
                }
            }

            var held = new Dictionary<string, Held>();
            foreach (var kind in Kinds)
            {
                held[kind] = await HoldAsync(sandboxes[kind], pods);
                Console.WriteLine($"    {pods} kept sandboxes, {kind}: QEMU {HostMemory.MiB(held[kind].PssKiB / pods)} per VM");
            }

            var baseline = Stats.Median(runs["initramfs"]);
            var initrd = new FileInfo(Path.Combine(Path.GetFullPath(build), "guest", "initrd.img")).Length;
            Console.WriteLine();
            Console.WriteLine($"| guest root | `run -- true` ms, median of {rounds} | x initramfs | QEMU PSS per VM at {pods} | guest used (MemTotal - MemAvailable) | guest MemTotal - MemFree | file |");
            Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|");
            foreach (var kind in Kinds)
            {
                var run = Stats.Median(runs[kind]);
                var m = held[kind].Meminfo;
                var size = kind == "image" ? new FileInfo(image).Length : initrd;
                Console.WriteLine($"| {kind} | {run:F0} | {run / baseline:F2} | {HostMemory.MiB(held[kind].PssKiB / pods).Trim()} | " +
                    $"{HostMemory.MiB(m["MemTotal"] - m["MemAvailable"]).Trim()} | {HostMemory.MiB(m["MemTotal"] - m["MemFree"]).Trim()} | {size / 1e6:F1} MB |");
            }
        }
        finally
        {
            foreach (var sandbox in sandboxes.Values)
            {
                await sandbox.DisposeAsync();
            }
        }
    }

    /// <summary>Starts <paramref name="count"/> idle sandboxes, measures them settled, and removes them again.</summary>
    private static async Task<Held> HoldAsync(PrivateSandbox sandbox, int count)
    {
        var ids = new List<string>();
        try
        {
            for (var i = 0; i < count; i++)
            {
                ids.Add((await sandbox.RunAsync(Guard, "run", "-d", "--network", "none", "--", "sleep", "1000000")).Trim());
            }

            var pids = ids.Select(id => int.Parse(File.ReadAllText(Path.Combine(sandbox.StateDir, "sandboxes", id, "vmm.pid")), CultureInfo.InvariantCulture)).ToList();
            var pss = await HostMemory.SettledAsync(() => pids.Sum(HostMemory.Pss));
            var meminfo = MemBenchmark.Meminfo(await sandbox.RunAsync(Guard, "exec", ids[0], "cat", "/proc/meminfo"));
            return new Held(pss, meminfo);
        }
        finally
        {
            foreach (var id in ids)
            {
                await sandbox.RunAsync(Guard, "rm", "-f", id);
            }
        }
    }

    private static int EnvInt(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), CultureInfo.InvariantCulture, out var value) && value > 0 ? value : fallback;

    private sealed record Held(long PssKiB, Dictionary<string, long> Meminfo);
}

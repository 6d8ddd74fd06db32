using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using KataSharp.Runtime.Hypervisors.Qemu;

namespace KataSharp.Benchmarks;

/// <summary>
/// Sizes the TCG translation-block cache (<c>hypervisor.tbSizeMiB</c>) by a workload, not by a boot alone: for each
/// size, a kept sandbox (<c>katasharp run -d</c>) serves a series of execs, and the table gives the time to a running
/// container, the median exec, how often QEMU flushed its whole cache (QMP <c>info jit</c>: every flush throws away
/// all translated code, which the guest then pays to translate again) and the QEMU process's PSS. The sizes run
/// interleaved, round after round, so that a machine that slows down mid-run weighs on every size alike.
/// <c>KATASHARP_BENCH_TB_SIZES</c> (comma-separated MiB, default 16,32,64,128) and <c>KATASHARP_BENCH_RUNS</c> (rounds,
/// default 3) change it. Only meaningful under TCG: KVM has no such cache.
/// </summary>
internal static partial class TcgCacheBenchmark
{
    private const int Rounds = 3;
    private const int Execs = 10;
    private static readonly TimeSpan Guard = TimeSpan.FromMinutes(5);

    public static async Task RunAsync(string build)
    {
        var rounds = int.TryParse(Environment.GetEnvironmentVariable("KATASHARP_BENCH_RUNS"), CultureInfo.InvariantCulture, out var r) && r > 0 ? r : Rounds;
        var sizes = (Environment.GetEnvironmentVariable("KATASHARP_BENCH_TB_SIZES") ?? "16,32,64,128")
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToList();
        var sandboxes = new Dictionary<int, PrivateSandbox>();
        try
        {
            foreach (var size in sizes)
            {
                sandboxes[size] = await PrivateSandbox.CreateAsync(build, $"ks-bench-tcg{size}-", $"accel: tcg\n  tbSizeMiB: {size}");
            }

            var defaultSize = new Runtime.Configuration.HypervisorConfig().TbSizeMiB;
            Console.WriteLine($"TCG cache benchmark: sizes {string.Join(", ", sizes)} MiB (default {defaultSize}), {rounds} rounds, {Execs} execs of `sh -c 'ls /; cat /proc/uptime'` each, " +
                $"{Environment.ProcessorCount} host CPUs");
            var samples = sizes.ToDictionary(s => s, _ => new List<Sample>());
            for (var round = 1; round <= rounds; round++)
            {
                foreach (var size in sizes)
                {
                    var sample = await MeasureAsync(sandboxes[size]);
                    samples[size].Add(sample);
                    Console.WriteLine($"    round {round}, {size} MiB: running after {sample.UpMs:F0} ms, exec median {sample.ExecMs:F0} ms, {sample.Flushes} flushes, QEMU PSS {HostMemory.MiB(sample.PssKiB)}");
                }
            }

            var baseline = samples.TryGetValue(defaultSize, out var d) ? Stats.Median(d.Select(s => s.ExecMs)) : double.NaN;
            Console.WriteLine();
            Console.WriteLine($"| tb-size, median of {rounds} | running (run -d) ms | exec ms | x exec at {defaultSize} MiB | cache flushes | QEMU PSS MiB |");
            Console.WriteLine("|---:|---:|---:|---:|---:|---:|");
            foreach (var size in sizes)
            {
                var list = samples[size];
                var exec = Stats.Median(list.Select(s => s.ExecMs));
                Console.WriteLine($"| {size} | {Stats.Median(list.Select(s => s.UpMs)):F0} | {exec:F0} | {exec / baseline:F2} | {Stats.Median(list.Select(s => (double)s.Flushes)):F0} | " +
                    $"{Stats.Median(list.Select(s => s.PssKiB / 1024.0)):F1} |");
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

    private static async Task<Sample> MeasureAsync(PrivateSandbox sandbox)
    {
        var clock = Stopwatch.StartNew();
        var id = (await sandbox.RunAsync(Guard, "run", "-d", "--network", "none", "--", "sleep", "1000000")).Trim();
        var up = clock.Elapsed.TotalMilliseconds;
        try
        {
            var execs = new List<double>();
            for (var i = 0; i < Execs; i++)
            {
                clock.Restart();
                await sandbox.RunAsync(Guard, "exec", id, "sh", "-c", "ls / >/dev/null; cat /proc/uptime >/dev/null");
                execs.Add(clock.Elapsed.TotalMilliseconds);
            }

            var directory = Path.Combine(sandbox.StateDir, "sandboxes", id);
            var pid = int.Parse(await File.ReadAllTextAsync(Path.Combine(directory, "vmm.pid")), CultureInfo.InvariantCulture);
            return new Sample(up, Stats.Median(execs), await FlushesAsync(Path.Combine(directory, "vmm.sock")), HostMemory.Pss(pid));
        }
        finally
        {
            await sandbox.RunAsync(Guard, "rm", "-f", id);
        }
    }

    /// <summary>QEMU's count of whole-cache flushes, from the human monitor's <c>info jit</c> over QMP.</summary>
    private static async Task<int> FlushesAsync(string qmpSocket)
    {
        using var timeout = new CancellationTokenSource(Guard);
        await using var qmp = await QmpClient.ConnectAsync(qmpSocket, TimeSpan.FromSeconds(10), timeout.Token);
        var text = (await qmp.ExecuteAsync("human-monitor-command", new JsonObject { ["command-line"] = "info jit" }, TimeSpan.FromSeconds(10), timeout.Token))?.GetValue<string>() ?? "";
        return FlushCount().Match(text) is { Success: true } m
            ? int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)
            : throw new InvalidOperationException($"no TB flush count in QEMU's info jit: {text}");
    }

    [GeneratedRegex(@"TB flush count\s+(\d+)")]
    private static partial Regex FlushCount();

    private sealed record Sample(double UpMs, double ExecMs, int Flushes, long PssKiB);
}

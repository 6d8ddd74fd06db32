using System.Diagnostics;
using System.Text.RegularExpressions;
using KataSharp.Tests.Integration.Infrastructure;

namespace KataSharp.Benchmarks;

/// <summary>
/// <c>katasharp run --image</c> from a registry (Debian's docker-registry on 127.0.0.1, the busybox image pushed into
/// it): a cold run (cache pruned: pull, verify, unpack, mount, boot, run) against a warm run (everything cached: only
/// the tag is resolved and the overlay mounted), each timed end to end; the CLI's own counters confirm which is which.
/// </summary>
internal static partial class PullBenchmark
{
    private const int Runs = 3;
    private static readonly TimeSpan Guard = TimeSpan.FromMinutes(5);

    public static async Task RunAsync(string build)
    {
        if (!File.Exists(LocalRegistry.Program))
        {
            Console.WriteLine($"pull benchmark: skipped, no {LocalRegistry.Program} (./build.sh deps installs docker-registry)");
            return;
        }

        await using var sandbox = await PrivateSandbox.CreateAsync(build, "ks-bench-pull-");
        var registryDir = Path.Combine(sandbox.Work, "registry");
        Directory.CreateDirectory(registryDir);
        await using var registry = await LocalRegistry.StartAsync(registryDir, _ => { });
        await registry.PushArchiveAsync(Path.Combine(build, "images", "busybox.oci.tar"), "busybox", "latest");
        var reference = $"{registry.Host}/busybox:latest";
        Console.WriteLine($"pull benchmark: katasharp run --image {reference} -- true, {Runs} rounds of cold then warm, {Environment.ProcessorCount} host CPUs");

        var cold = new List<double>();
        var warm = new List<double>();
        for (var i = 1; i <= Runs; i++)
        {
            await RunCliAsync(sandbox, "prune", "--all");
            var (coldSeconds, coldCounters) = await TimedRunAsync(sandbox, reference);
            var (warmSeconds, warmCounters) = await TimedRunAsync(sandbox, reference);
            cold.Add(coldSeconds);
            warm.Add(warmSeconds);
            Console.WriteLine($"    round {i}: cold {coldSeconds * 1000,7:F0} ms ({coldCounters}), warm {warmSeconds * 1000,7:F0} ms ({warmCounters})");
        }

        var coldMedian = Stats.Median(cold);
        var warmMedian = Stats.Median(warm);
        Console.WriteLine($"(a) cold pull-and-run: median {coldMedian * 1000,7:F0} ms");
        Console.WriteLine($"(b) warm run:          median {warmMedian * 1000,7:F0} ms");
        Console.WriteLine($"    ratio (a)/(b), medians: {coldMedian / warmMedian,6:F2}x");
    }

    private static async Task<(double Seconds, string Counters)> TimedRunAsync(PrivateSandbox sandbox, string reference)
    {
        var clock = Stopwatch.StartNew();
        var stderr = await RunCliAsync(sandbox, "run", "--verbose", "--network", "none", "--image", reference, "--", "true");
        var seconds = clock.Elapsed.TotalSeconds;
        var counters = CountersPattern().Match(stderr);
        return (seconds, counters.Success ? counters.Value : "no pull counters logged");
    }

    private static async Task<string> RunCliAsync(PrivateSandbox sandbox, params string[] args)
    {
        using var process = Process.Start(sandbox.Cli(args)) ?? throw new InvalidOperationException("cannot start katasharp");
        process.StandardInput.Close();
        using var guard = new CancellationTokenSource(Guard);
        var stdout = process.StandardOutput.ReadToEndAsync(guard.Token);
        var stderr = process.StandardError.ReadToEndAsync(guard.Token);
        await process.WaitForExitAsync(guard.Token);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"katasharp {string.Join(' ', args)} exited {process.ExitCode}: {await stderr}");
        }

        await stdout;
        return await stderr;
    }

    [GeneratedRegex(@"\d+ blobs downloaded, \d+ layers unpacked")]
    private static partial Regex CountersPattern();
}

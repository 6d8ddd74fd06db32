using KataSharp.Benchmarks;

// ./build.sh bench [ttrpc|sandbox|shim|net|io|startup|mem|pull|tcg|root|density|all] --build DIR (density is never part of all)
var what = args.Length > 0 && !args[0].StartsWith("--", StringComparison.Ordinal) ? args[0] : "all";
var build = args.SkipWhile(a => a != "--build").Skip(1).FirstOrDefault() ?? Path.GetFullPath("build");

var benches = new Dictionary<string, Func<string, Task>>
{
    ["ttrpc"] = _ => TtrpcBenchmark.RunAsync(),
    ["sandbox"] = SandboxBenchmark.RunAsync,
    ["shim"] = ShimBenchmark.RunAsync,
    ["net"] = async build =>
    {
        await NetBenchmark.RunAsync(build);
        await PodNetworkBenchmark.RunAsync(build);
    },
    ["io"] = IoBenchmark.RunAsync,
    ["startup"] = StartupBenchmark.RunAsync,
    ["mem"] = MemBenchmark.RunAsync,
    ["pull"] = PullBenchmark.RunAsync,
    ["tcg"] = TcgCacheBenchmark.RunAsync,
    ["root"] = RootBenchmark.RunAsync,
};

// Density boots up to 32 VMs at once: on its own only, never in "all".
if (what == "density")
{
    await DensityBenchmark.RunAsync(build);
    return 0;
}

if (what == "all")
{
    foreach (var bench in benches.Values)
    {
        await bench(build);
    }

    return 0;
}

if (!benches.TryGetValue(what, out var selected))
{
    Console.Error.WriteLine($"unknown benchmark '{what}'; known: {string.Join(", ", benches.Keys)}, density, all");
    return 2;
}

await selected(build);
return 0;

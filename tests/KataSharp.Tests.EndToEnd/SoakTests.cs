using System.Diagnostics;
using KataSharp.Protocol.Cri.V1;
using Xunit.Abstractions;

namespace KataSharp.Tests.EndToEnd;

/// <summary>
/// The soak (<c>./build.sh soak</c>, never part of <c>test</c>): pod create, exec and remove cycles through CRI,
/// <see cref="Parallelism"/> at a time, then <c>katasharp run</c> jobs, next to one long-lived pod that is exec'd
/// into on every cycle. Afterwards nothing of ours is left that was not there before (see <see cref="HostInventory"/>),
/// and containerd's RSS and the long-lived pod's shim's RSS stay flat.
/// </summary>
[Collection(KataSharpContainerdCollection.Name)]
public sealed class SoakTests(KataSharpContainerd containerd, ITestOutputHelper output)
{
    private const string Handler = "katasharp";
    private const int Parallelism = 4;
    private const int SampleEvery = 20;
    private const long SettledGrowthKiB = 8 * 1024;
    private static readonly TimeSpan CallTimeout = ContainerdTestbed.CallTimeout;

    private static DateTime Deadline => DateTime.UtcNow + CallTimeout;

    [SoakFact]
    [Trait("Category", "Soak")]
    public async Task PodCyclesAndCliJobs_LeaveNothingBehind_AndKeepRssFlat()
    {
        var pods = Count("KATASHARP_SOAK_PODS");
        var jobs = Count("KATASHARP_SOAK_JOBS");
        using var cri = new CriClient(containerd.CriSocket);
        await using var anchor = await CriPod.RunAsync(cri, "soak-anchor", Handler);
        var anchorApp = await CriTests.StartContainerAsync(cri, anchor.Id, anchor.Config, CriTests.ContainerConfig("app", "sleep", "100000"));
        var containerdPid = ContainerdPid();
        var shimPid = AnchorShimPid(anchor.Id);

        // The first batch warms both up (containerd's caches, the shim's first exec); the figures start after it.
        var warmUp = Math.Min(Parallelism, pods);
        await CyclesAsync(cri, anchorApp, 0, warmUp);
        var before = HostInventory.Take(containerd, containerdPid);
        var rssBefore = (Containerd: RssKiB(containerdPid), Shim: RssKiB(shimPid));

        // Sampled every SampleEvery cycles: a heap that settles flattens out, a leak climbs to the end.
        var samples = new List<(int Cycle, long Containerd, long Shim)> { (warmUp, rssBefore.Containerd, rssBefore.Shim) };
        var clock = Stopwatch.StartNew();
        for (var from = warmUp; from < pods; from += SampleEvery)
        {
            var to = Math.Min(from + SampleEvery, pods);
            await CyclesAsync(cri, anchorApp, from, to);
            samples.Add((to, RssKiB(containerdPid), RssKiB(shimPid)));
        }

        var podTime = clock.Elapsed;
        clock.Restart();
        await Parallel.ForEachAsync(Enumerable.Range(0, jobs), new ParallelOptions { MaxDegreeOfParallelism = Parallelism }, async (i, _) => await JobAsync(i));
        var jobTime = clock.Elapsed;

        var after = await HostInventory.SettledAsync(containerd, containerdPid, before, TimeSpan.FromSeconds(60));
        var rssAfter = (Containerd: RssKiB(containerdPid), Shim: RssKiB(shimPid));
        output.WriteLine($"soak: {pods} pod cycles ({Parallelism} at a time; {pods - warmUp} after the warm-up took {podTime.TotalSeconds:0} s), {jobs} katasharp run jobs ({jobTime.TotalSeconds:0} s)");
        output.WriteLine($"soak: containerd RSS {rssBefore.Containerd} KiB -> {rssAfter.Containerd} KiB; long-lived pod's shim RSS {rssBefore.Shim} KiB -> {rssAfter.Shim} KiB");
        output.WriteLine("soak: RSS in KiB after cycle N (containerd, the long-lived pod's shim): "
            + string.Join(", ", samples.Select(s => $"{s.Cycle}: {s.Containerd} {s.Shim}")));
        output.WriteLine($"soak: ours before -> after: {HostInventory.Compare(before, after)}");
        var leaked = HostInventory.Leaked(before, after);
        output.WriteLine($"soak: leaked {leaked.Count}");
        Assert.True(leaked.Count == 0, "left behind:\n" + string.Join('\n', leaked));
        AssertFlat("containerd", rssBefore.Containerd, rssAfter.Containerd);
        AssertFlat("the long-lived pod's shim", rssBefore.Shim, rssAfter.Shim);
        AssertSettled("the long-lived pod's shim", samples.Select(s => (s.Cycle, s.Shim)).ToList());
    }

    /// <summary>
    /// The shim's heap has a 4 MiB gen0 budget (Directory.Build.targets), so it has settled by the second half of
    /// the cycles: what it adds there is a few MiB of heap and page noise, where a leak keeps adding per exec.
    /// </summary>
    private static void AssertSettled(string what, IReadOnlyList<(int Cycle, long RssKiB)> samples)
    {
        if (samples.Count < 3)
        {
            return;
        }

        var middle = samples[samples.Count / 2];
        var last = samples[^1];
        Assert.True(last.RssKiB - middle.RssKiB <= SettledGrowthKiB,
            $"{what}'s RSS still grew from {middle.RssKiB} KiB after cycle {middle.Cycle} to {last.RssKiB} KiB after cycle {last.Cycle} (more than {SettledGrowthKiB} KiB)");
    }

    /// <summary>Cycles <paramref name="from"/> to <paramref name="to"/>: run a pod, start a container, exec in it and in the long-lived pod, remove the pod.</summary>
    private Task CyclesAsync(CriClient cri, string anchorApp, int from, int to) =>
        Parallel.ForEachAsync(Enumerable.Range(from, to - from), new ParallelOptions { MaxDegreeOfParallelism = Parallelism }, async (i, _) =>
        {
            await using (var pod = await CriPod.RunAsync(cri, $"soak-{i}", Handler))
            {
                var app = await CriTests.StartContainerAsync(cri, pod.Id, pod.Config, CriTests.ContainerConfig("app", "sleep", "1000"));
                var exec = await CriTests.ExecSyncAsync(cri, app, "echo", $"cycle-{i}");
                Assert.True(exec.ExitCode == 0 && exec.Stdout.ToStringUtf8() == $"cycle-{i}\n", $"cycle {i}: exec gave {exec.ExitCode}: {exec.Stdout.ToStringUtf8()}{exec.Stderr.ToStringUtf8()}");
            }

            var anchored = await CriTests.ExecSyncAsync(cri, anchorApp, "echo", $"anchor-{i}");
            Assert.Equal($"anchor-{i}\n", anchored.Stdout.ToStringUtf8());
        });

    private async Task JobAsync(int i)
    {
        var (code, stdout, stderr) = await KatasharpCli.RunAsync(CallTimeout, "--config", containerd.ConfigPath, "run", "--", "echo", $"job-{i}");
        Assert.True(code == 0 && stdout.Contains($"job-{i}", StringComparison.Ordinal), $"job {i}: exit {code}: {stdout}{stderr}");
    }

    /// <summary>
    /// Flat: what a leak of a few KiB per cycle would add over the default 200 cycles stays out; what a heap
    /// settling after warm-up adds (a fraction of it) stays in.
    /// </summary>
    private static void AssertFlat(string what, long beforeKiB, long afterKiB)
    {
        var allowed = Math.Max(beforeKiB / 2, 32 * 1024);
        Assert.True(afterKiB - beforeKiB <= allowed, $"{what}'s RSS grew from {beforeKiB} KiB to {afterKiB} KiB (more than {allowed} KiB)");
    }

    private static int Count(string variable)
    {
        var value = Environment.GetEnvironmentVariable(variable);
        if (string.IsNullOrEmpty(value))
        {
            return 200;
        }

        return int.TryParse(value, out var count) && count >= 0 ? count : throw new ArgumentException($"{variable}={value}: not a count");
    }

    private int ContainerdPid() =>
        int.Parse(Assert.Single(HostResources.ProcessesMentioning(containerd.Daemon.Directory_),
            p => p.Contains("--config", StringComparison.Ordinal) && !p.Contains("containerd-shim", StringComparison.Ordinal)).Split(':')[0]);

    private int AnchorShimPid(string podId) =>
        int.Parse(Assert.Single(HostResources.ProcessesMentioning("containerd-shim-katasharp-v2"),
            p => p.Contains(containerd.Daemon.Address, StringComparison.Ordinal) && p.Contains(podId, StringComparison.Ordinal)).Split(':')[0]);

    private static long RssKiB(int pid) =>
        File.ReadLines($"/proc/{pid}/status").Where(l => l.StartsWith("VmRSS:", StringComparison.Ordinal))
            .Select(l => long.Parse(l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1])).Single();
}

using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using KataSharp.Native;
using KataSharp.Runtime.Hypervisors;
using KataSharp.Tests.EndToEnd;

namespace KataSharp.Benchmarks;

/// <summary>
/// Start-up and stdout, side by side in one run, against the floors they cannot beat: (a) the bare floor (QEMU with
/// the same kernel, machine and command line, an /init that powers off at once, exec to exit); (b) <c>katasharp run --
/// true</c>, exec to exit; (c) pod ready through containerd's CRI (RunPodSandbox + CreateContainer + StartContainer)
/// for runc and katasharp, and StopPodSandbox of each such pod (for katasharp, the VM's end); (d) container stdout into the CRI log file, read back here (size and sha256 of what
/// arrived against what dd sent), against (e) the same dd writing to /dev/null in the guest.
/// </summary>
internal static class StartupBenchmark
{
    private const int Runs = 5;
    private static readonly TimeSpan Guard = TimeSpan.FromMinutes(5);

    public static async Task RunAsync(string build)
    {
        var runs = int.TryParse(Environment.GetEnvironmentVariable("KATASHARP_BENCH_RUNS"), CultureInfo.InvariantCulture, out var r) && r > 0 ? r : Runs;
        var mib = int.TryParse(Environment.GetEnvironmentVariable("KATASHARP_BENCH_IO_MIB"), CultureInfo.InvariantCulture, out var m) && m > 0 ? m : 16;
        await using var sandbox = await PrivateSandbox.CreateAsync(build, "ks-bench-startup-");
        var config = sandbox.Config;
        var accel = AcceleratorSelector.Choose(config.Hypervisor.Accel, HostSystem.Instance).Accelerator;
        Console.WriteLine($"start-up benchmark: accel {accel.ToString().ToLowerInvariant()}, machine {config.Hypervisor.Machine}, kernel {sandbox.Kernel}, " +
            $"{config.Hypervisor.Vcpus} vCPU, {config.Hypervisor.MemoryMiB} MiB, {runs} runs each after one warm-up, {Environment.ProcessorCount} host CPUs");

        var floor = await BareFloor.MeasureAsync(config, accel, sandbox.Kernel, sandbox.Work, runs);
        var runTrue = await MeasureRunTrueAsync(sandbox, runs);

        Environment.SetEnvironmentVariable("KATASHARP_BUILD", build);
        await using var testbed = await ContainerdTestbed.StartAsync();
        using var cri = new CriClient(testbed.CriSocket);
        var ready = new Dictionary<string, List<double>>();
        var stopped = new Dictionary<string, List<double>>();
        foreach (var handler in new[] { "runc", "katasharp" })
        {
            (ready[handler], stopped[handler]) = await MeasurePodReadyAsync(cri, handler, runs);
        }

        var (toLog, inGuest) = await MeasureStdoutAsync(cri, mib, Math.Min(runs, 3));

        var floorMs = Stats.Median(floor);
        var runcMs = Stats.Median(ready["runc"]);
        var kataMs = Stats.Median(ready["katasharp"]);
        var trueMs = Stats.Median(runTrue);
        var logRate = Stats.Median(toLog);
        var guestRate = Stats.Median(inGuest);
        Console.WriteLine();
        Console.WriteLine($"| start-up, median of {runs} ({accel.ToString().ToLowerInvariant()}) | ms | x bare floor | x runc |");
        Console.WriteLine("|---|---:|---:|---:|");
        Console.WriteLine($"| bare floor: QEMU, same kernel and machine, /init powers off | {floorMs:F0} | 1.00 | |");
        Console.WriteLine($"| katasharp run -- true, exec to exit | {trueMs:F0} | {trueMs / floorMs:F2} | |");
        Console.WriteLine($"| pod ready (CRI, containerd 1.6), runc | {runcMs:F0} | | 1.00 |");
        Console.WriteLine($"| pod ready (CRI, containerd 1.6), katasharp | {kataMs:F0} | {kataMs / floorMs:F2} | {kataMs / runcMs:F1} |");
        var runcStopMs = Stats.Median(stopped["runc"]);
        var kataStopMs = Stats.Median(stopped["katasharp"]);
        Console.WriteLine($"| StopPodSandbox of that pod (its container running), runc | {runcStopMs:F0} | | 1.00 |");
        Console.WriteLine($"| StopPodSandbox of that pod (its container running), katasharp | {kataStopMs:F0} | | {kataStopMs / runcStopMs:F1} |");
        Console.WriteLine();
        Console.WriteLine($"| stdout, {mib} MiB, median | MiB/s | x in-guest |");
        Console.WriteLine("|---|---:|---:|");
        Console.WriteLine($"| dd to /dev/null in the guest | {guestRate:F1} | 1.00 |");
        Console.WriteLine($"| container stdout to the CRI log file (0 bytes lost, sha256 checked) | {logRate:F1} | {logRate / guestRate:F2} |");
    }

    /// <summary>(b): exec of <c>katasharp run -- true</c> to its exit.</summary>
    private static async Task<List<double>> MeasureRunTrueAsync(PrivateSandbox sandbox, int runs)
    {
        var samples = new List<double>();
        for (var i = 0; i <= runs; i++)
        {
            var clock = Stopwatch.StartNew();
            using var process = Process.Start(sandbox.Cli("run", "--", "true"))!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync().WaitAsync(Guard);
            var elapsed = clock.Elapsed.TotalMilliseconds;
            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException($"katasharp run -- true: exit {process.ExitCode}: {await stdout}{await stderr}");
            }

            if (i > 0)
            {
                samples.Add(elapsed);
            }

            Console.WriteLine($"    katasharp run -- true {(i == 0 ? "warm-up" : i.ToString(CultureInfo.InvariantCulture))}: {elapsed:F0} ms");
        }

        return samples;
    }

    /// <summary>(c): pod ready under one handler; the warm-up pod pays for unpacking the images.</summary>
    /// <returns>Pod ready, and StopPodSandbox of the same pod (its container still running), in ms.</returns>
    private static async Task<(List<double> Ready, List<double> Stopped)> MeasurePodReadyAsync(CriClient cri, string handler, int runs)
    {
        var ready = new List<double>();
        var stopped = new List<double>();
        for (var i = 0; i <= runs; i++)
        {
            var pod = await BenchPod.StartAsync(cri, handler, $"startup-{handler}-{i}", ["sleep", "1000"]);
            await pod.DisposeAsync();
            if (i > 0)
            {
                ready.Add(pod.Ready.TotalMilliseconds);
                stopped.Add(pod.Stopped.TotalMilliseconds);
            }

            Console.WriteLine($"    pod ready, {handler} {(i == 0 ? "warm-up" : i.ToString(CultureInfo.InvariantCulture))}: {pod.Ready.TotalMilliseconds:F0} ms; " +
                $"pod stopped: {pod.Stopped.TotalMilliseconds:F0} ms");
        }

        return (ready, stopped);
    }

    /// <summary>(d) and (e), in katasharp pods: stdout into the CRI log, and the in-guest rate from dd's window on stderr.</summary>
    private static async Task<(List<double> ToLog, List<double> InGuest)> MeasureStdoutAsync(CriClient cri, int mib, int runs)
    {
        var blocks = mib * 1024 * 1024 / IoBenchmark.BlockSize;
        var expectedBytes = (long)blocks * IoBenchmark.BlockSize;
        var expectedSha = Convert.ToHexStringLower(SHA256.HashData(new byte[expectedBytes]));
        var toLog = new List<double>();
        var inGuest = new List<double>();
        for (var i = 1; i <= runs; i++)
        {
            await using (var pod = await BenchPod.StartAsync(cri, "katasharp", $"startup-stdout-{i}", ["sh", "-c", IoBenchmark.TimedDd(blocks, "")]))
            {
                var log = await FollowAsync(pod, log => log.StdoutBytes >= expectedBytes && log.Stderr.Contains("ks-dd-window", StringComparison.Ordinal));
                IoBenchmark.Check(log.StdoutBytes, log.StdoutSha256, expectedBytes, expectedSha);
                var seconds = Stopwatch.GetElapsedTime(log.FirstByteAt, log.LastByteAt).TotalSeconds;
                toLog.Add(IoBenchmark.Rate(expectedBytes, seconds));
                Console.WriteLine($"    run {i}: container stdout to the CRI log: {log.StdoutBytes} bytes, sha256 ok, {toLog[^1]:F1} MiB/s first to last byte " +
                    $"(dd's own window in the guest: {IoBenchmark.Rate(expectedBytes, IoBenchmark.DdSeconds(log.Stderr)):F1} MiB/s)");
            }

            var guestBytes = expectedBytes * IoBenchmark.GuestOnlyFactor;
            await using (var pod = await BenchPod.StartAsync(cri, "katasharp", $"startup-devnull-{i}", ["sh", "-c", IoBenchmark.TimedDd(blocks * IoBenchmark.GuestOnlyFactor, "of=/dev/null")]))
            {
                var log = await FollowAsync(pod, log => log.Stderr.Contains("ks-dd-window", StringComparison.Ordinal));
                inGuest.Add(IoBenchmark.Rate(guestBytes, IoBenchmark.DdSeconds(log.Stderr)));
                Console.WriteLine($"    run {i}: dd to /dev/null in the guest: {guestBytes} bytes, {inGuest[^1]:F1} MiB/s");
            }
        }

        return (toLog, inGuest);
    }

    /// <summary>Reads the pod's log as it grows until <paramref name="done"/> holds.</summary>
    private static async Task<CriLogTail> FollowAsync(BenchPod pod, Func<CriLogTail, bool> done)
    {
        var log = new CriLogTail();
        var clock = Stopwatch.StartNew();
        while (!done(log))
        {
            if (clock.Elapsed > Guard)
            {
                throw new TimeoutException($"{pod.LogPath}: {log.StdoutBytes} stdout bytes after {Guard.TotalMinutes} min; stderr: {log.Stderr}");
            }

            await Task.Delay(5);
            log.Poll(pod.LogPath);
        }

        return log;
    }
}

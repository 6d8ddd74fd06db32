using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using KataSharp.Native;
using KataSharp.Runtime.Configuration;
using KataSharp.Runtime.Hypervisors;
using KataSharp.Runtime.Hypervisors.Qemu;

namespace KataSharp.Benchmarks;

/// <summary>
/// What a sandbox costs, under the accelerator this host gives us (TCG on the development machines):
/// (a) <c>katasharp run -- echo hi</c> from exec to the first output byte; (b) bare QEMU with the same
/// kernel, machine, accelerator, memory and kernel command line booting an initramfs whose /init
/// powers off at once, from exec to exit; the ratio (a)/(b), i.e. what the runtime, agent and
/// container add to a bare boot; and (c) the host memory (PSS) of one idle sandbox.
/// Everything runs with a private state directory, never the host's /run/katasharp.
/// </summary>
internal static class SandboxBenchmark
{
    private const int Runs = 5;
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(180);

    public static async Task RunAsync(string build)
    {
        await using var sandbox = await PrivateSandbox.CreateAsync(build, "ks-bench-sandbox-");
        var config = sandbox.Config;
        var accel = AcceleratorSelector.Choose(config.Hypervisor.Accel, HostSystem.Instance).Accelerator;
        Console.WriteLine($"sandbox benchmark: accel {accel.ToString().ToLowerInvariant()}, machine {config.Hypervisor.Machine}, " +
            $"{config.Hypervisor.Vcpus} vCPU, {config.Hypervisor.MemoryMiB} MiB, {Runs} runs each, {Environment.ProcessorCount} host CPUs");
        var firstOutput = await MeasureFirstOutputAsync(sandbox);
        var bare = await BareFloor.MeasureAsync(config, accel, sandbox.Kernel, sandbox.Work, Runs);
        var median = Stats.Median(firstOutput);
        var bareMedian = Stats.Median(bare);
        Console.WriteLine($"(a) katasharp run -- echo hi, exec to first output byte:   median {median,7:F0} ms   min {firstOutput.Min(),7:F0} ms");
        Console.WriteLine($"(b) bare QEMU, same kernel/machine/accel, /init powers off: median {bareMedian,7:F0} ms   min {bare.Min(),7:F0} ms   (exec to QEMU exit)");
        Console.WriteLine($"    ratio (a)/(b), medians:                                 {median / bareMedian,7:F2}x");
        await MeasureIdleMemoryAsync(sandbox);
    }

    /// <summary>(a): exec of the CLI to the first byte on its stdout, over one warm-up run and <see cref="Runs"/> measured ones.</summary>
    private static async Task<List<double>> MeasureFirstOutputAsync(PrivateSandbox sandbox)
    {
        var samples = new List<double>();
        for (var i = 0; i <= Runs; i++)
        {
            var start = sandbox.Cli("run", "--", "echo", "hi");
            var clock = Stopwatch.StartNew();
            using var process = Process.Start(start)!;
            var stderr = process.StandardError.ReadToEndAsync();
            var buffer = new byte[64];
            var n = await process.StandardOutput.BaseStream.ReadAsync(buffer).AsTask().WaitAsync(Guard);
            var firstByte = clock.Elapsed.TotalMilliseconds;
            var rest = await process.StandardOutput.ReadToEndAsync();
            await process.WaitForExitAsync().WaitAsync(Guard);
            var output = System.Text.Encoding.UTF8.GetString(buffer, 0, n) + rest;
            if (process.ExitCode != 0 || output != "hi\n")
            {
                throw new InvalidOperationException($"katasharp run -- echo hi: exit {process.ExitCode}, stdout '{output}', stderr: {await stderr}");
            }

            if (i > 0)
            {
                samples.Add(firstByte);
            }

            Console.WriteLine($"    run {(i == 0 ? "warm-up" : i.ToString(CultureInfo.InvariantCulture))}: first output after {firstByte:F0} ms, exit after {clock.Elapsed.TotalMilliseconds:F0} ms");
        }

        return samples;
    }

    /// <summary>(c): one idle sandbox held by a foreground <c>katasharp run --keep -- sleep</c>: PSS of QEMU and of the CLI process.</summary>
    private static async Task MeasureIdleMemoryAsync(PrivateSandbox sandbox)
    {
        var id = "bench-idle-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3));
        using var process = Process.Start(sandbox.Cli("run", "--keep", "--name", id, "--", "sleep", "100000"))!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stateFile = Path.Combine(sandbox.StateDir, "sandboxes", id, "state.json");
        try
        {
            // Running: the state says so once the container has started.
            var clock = Stopwatch.StartNew();
            int qemuPid;
            while (true)
            {
                if (process.HasExited)
                {
                    throw new InvalidOperationException($"katasharp run --keep exited early ({process.ExitCode}): {await stderr}");
                }

                if (clock.Elapsed > Guard)
                {
                    throw new TimeoutException("the idle sandbox did not start");
                }

                if (TryReadState(stateFile) is { } state && state["containers"]?.AsArray().Any(c => c?["status"]?.GetValue<string>() == "running") == true)
                {
                    qemuPid = state["pid"]!.GetValue<int>();
                    break;
                }

                await Task.Delay(200);
            }

            // Settle: sample every second until QEMU's PSS moves by less than 1% between samples (at most 30 s).
            long qemu = Pss(qemuPid), runtime = Pss(process.Id);
            for (var i = 0; i < 30; i++)
            {
                await Task.Delay(1000);
                var next = Pss(qemuPid);
                runtime = Pss(process.Id);
                var settled = i >= 4 && Math.Abs(next - qemu) < qemu / 100;
                qemu = next;
                if (settled)
                {
                    break;
                }
            }

            Console.WriteLine($"(c) idle sandbox host memory (PSS, smaps_rollup): QEMU {qemu / 1024.0,6:F1} MiB + katasharp run process holding it {runtime / 1024.0,5:F1} MiB = {(qemu + runtime) / 1024.0,6:F1} MiB");
        }
        finally
        {
            if (!process.HasExited)
            {
                // SIGTERM: the CLI tears its sandbox down.
                _ = Libc.Kill(process.Id, Linux.SIGTERM);
                if (!process.WaitForExit(TimeSpan.FromSeconds(60)))
                {
                    process.Kill();
                }
            }

            using var rm = Process.Start(sandbox.Cli("rm", "-f", id))!;
            await rm.WaitForExitAsync();
        }
    }

    private static JsonNode? TryReadState(string path)
    {
        try
        {
            return File.Exists(path) ? JsonNode.Parse(File.ReadAllText(path)) : null;
        }
        catch (Exception e) when (e is IOException or System.Text.Json.JsonException)
        {
            return null;
        }
    }

    /// <summary>Proportional set size in KiB, from /proc/PID/smaps_rollup.</summary>
    private static long Pss(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/smaps_rollup"))
        {
            if (line.StartsWith("Pss:", StringComparison.Ordinal))
            {
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
            }
        }

        throw new InvalidOperationException($"no Pss in /proc/{pid}/smaps_rollup");
    }
}

using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using KataSharp.Tests.EndToEnd;

namespace KataSharp.Benchmarks;

/// <summary>
/// Container stdout throughput through the CLI: <c>katasharp run -- dd if=/dev/zero bs=64k count=N</c> with
/// stdout read and hashed here (every byte must arrive: count and sha256 are checked), against the same dd
/// writing to /dev/null inside the guest (16 times the data, timed by the guest's /proc/uptime around dd: busybox dd
/// prints no rate). The ratio is what the stdout path costs. Through containerd, the same dd runs under
/// <c>ctr run</c> with the katasharp runtime: the shim writes into the FIFO containerd made and ctr copies it to
/// the stdout read here (count and sha256 checked the same way).
/// </summary>
internal static partial class IoBenchmark
{
    private const int Runs = 3;
    internal const int BlockSize = 64 * 1024;
    internal const int GuestOnlyFactor = 16;
    private static readonly TimeSpan Guard = TimeSpan.FromMinutes(5);

    public static async Task RunAsync(string build)
    {
        var mib = int.TryParse(Environment.GetEnvironmentVariable("KATASHARP_BENCH_IO_MIB"), CultureInfo.InvariantCulture, out var m) && m > 0 ? m : 16;
        var blocks = mib * 1024 * 1024 / BlockSize;
        var expectedBytes = (long)blocks * BlockSize;
        var expectedSha = Convert.ToHexStringLower(SHA256.HashData(new byte[expectedBytes]));
        await using var sandbox = await PrivateSandbox.CreateAsync(build, "ks-bench-io-");
        Console.WriteLine($"io benchmark: {mib} MiB of zeros in {BlockSize / 1024} KiB blocks, {Runs} runs each, {Environment.ProcessorCount} host CPUs");

        var toCli = new List<double>();
        var inGuest = new List<double>();
        for (var i = 1; i <= Runs; i++)
        {
            var (bytes, sha, seconds, ddSeconds) = await ReadStdoutAsync(sandbox.Cli("run", "--", "sh", "-c", TimedDd(blocks, "")), "katasharp run -- dd");
            Check(bytes, sha, expectedBytes, expectedSha);

            toCli.Add(Rate(bytes, seconds));
            Console.WriteLine($"    run {i}: container stdout to the CLI: {bytes} bytes, sha256 ok, {Rate(bytes, seconds),8:F1} MiB/s first to last byte (dd's own window in the guest: {Rate(bytes, ddSeconds):F1} MiB/s)");
        }

        for (var i = 1; i <= Runs; i++)
        {
            var seconds = await DdToDevNullAsync(sandbox, blocks * GuestOnlyFactor);
            inGuest.Add(Rate(expectedBytes * GuestOnlyFactor, seconds));
            Console.WriteLine($"    run {i}: dd to /dev/null in the guest: {expectedBytes * GuestOnlyFactor} bytes, {Rate(expectedBytes * GuestOnlyFactor, seconds),8:F1} MiB/s");
        }

        var toFifo = new List<double>();
        Environment.SetEnvironmentVariable("KATASHARP_BUILD", build);
        await using (var testbed = await ContainerdTestbed.StartAsync())
        {
            for (var i = 1; i <= Runs; i++)
            {
                var start = testbed.Daemon.CtrStartInfo(["run", "--rm", "--runtime", "io.containerd.katasharp.v2", BuildArtifacts.BusyboxRef, $"ks-bench-io-{i}", "sh", "-c", TimedDd(blocks, "")]);
                var (bytes, sha, seconds, ddSeconds) = await ReadStdoutAsync(start, "ctr run -- dd");
                Check(bytes, sha, expectedBytes, expectedSha);
                toFifo.Add(Rate(bytes, seconds));
                Console.WriteLine($"    run {i}: container stdout through the containerd FIFO (ctr run): {bytes} bytes, sha256 ok, {Rate(bytes, seconds),8:F1} MiB/s first to last byte (dd's own window in the guest: {Rate(bytes, ddSeconds):F1} MiB/s)");
            }
        }

        var cli = Stats.Median(toCli);
        var fifo = Stats.Median(toFifo);
        var guest = Stats.Median(inGuest);
        Console.WriteLine($"(a) container stdout to the katasharp CLI:  median {cli,8:F1} MiB/s   (0 bytes lost, sha256 checked)");
        Console.WriteLine($"(b) through containerd to a FIFO (ctr run): median {fifo,8:F1} MiB/s   (0 bytes lost, sha256 checked)");
        Console.WriteLine($"    dd to /dev/null inside the guest:       median {guest,8:F1} MiB/s");
        Console.WriteLine($"    ratio (a)/guest, medians:                      {cli / guest,8:F3}x");
        Console.WriteLine($"    ratio (b)/guest, medians:                      {fifo / guest,8:F3}x");
    }

    internal static void Check(long bytes, string sha, long expectedBytes, string expectedSha)
    {
        if (bytes != expectedBytes || sha != expectedSha)
        {
            throw new InvalidOperationException($"stdout lost data: {bytes} of {expectedBytes} bytes arrived, sha256 {sha} (expected {expectedSha})");
        }
    }

    internal static double Rate(long bytes, double seconds) => bytes / (1024.0 * 1024.0) / seconds;

    /// <summary>Reads the container's stdout to the end, hashing it; times first to last byte here and takes dd's own time from its stderr.</summary>
    private static async Task<(long Bytes, string Sha, double Seconds, double DdSeconds)> ReadStdoutAsync(ProcessStartInfo start, string what)
    {
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[256 * 1024];
        long total = 0;
        long first = 0;
        using var guard = new CancellationTokenSource(Guard);
        try
        {
            int n;
            while ((n = await process.StandardOutput.BaseStream.ReadAsync(buffer, guard.Token)) > 0)
            {
                if (total == 0)
                {
                    first = Stopwatch.GetTimestamp();
                }

                hash.AppendData(buffer, 0, n);
                total += n;
            }

            var elapsed = Stopwatch.GetElapsedTime(first).TotalSeconds;
            await process.WaitForExitAsync(guard.Token);
            var errors = await stderr;
            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException($"{what}: exit {process.ExitCode}: {errors}");
            }

            return (total, Convert.ToHexStringLower(hash.GetHashAndReset()), elapsed, DdSeconds(errors));
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
    }

    private static async Task<double> DdToDevNullAsync(PrivateSandbox sandbox, int blocks)
    {
        using var process = Process.Start(sandbox.Cli("run", "--", "sh", "-c", TimedDd(blocks, "of=/dev/null")))!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(Guard);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }

        var errors = await stderr;
        return process.ExitCode == 0
            ? DdSeconds(errors)
            : throw new InvalidOperationException($"katasharp run -- dd of=/dev/null: exit {process.ExitCode}: {await stdout}{errors}");
    }

    /// <summary>dd between two readings of the guest's /proc/uptime, reported on stderr.</summary>
    internal static string TimedDd(int blocks, string output) =>
        $"read s _ < /proc/uptime; dd if=/dev/zero {output} bs={BlockSize} count={blocks}; read e _ < /proc/uptime; echo \"ks-dd-window $s $e\" >&2";

    /// <summary>dd's window in seconds; /proc/uptime counts hundredths, so a shorter window reads as one hundredth.</summary>
    internal static double DdSeconds(string stderr) =>
        DdWindow().Match(stderr) is { Success: true } match
            ? Math.Max(0.01, double.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture) - double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture))
            : throw new InvalidOperationException($"no dd window on stderr: {stderr}");

    [GeneratedRegex(@"ks-dd-window ([0-9.]+) ([0-9.]+)")]
    private static partial Regex DdWindow();
}

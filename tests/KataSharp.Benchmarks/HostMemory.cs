using KataSharp.Protocol.Cri.V1;
using KataSharp.Tests.EndToEnd;

namespace KataSharp.Benchmarks;

/// <summary>Commands run in a bench pod's container through CRI's ExecSync.</summary>
internal static class PodExec
{
    /// <summary>Its stdout; an exception past <paramref name="timeout"/> or when the command fails.</summary>
    public static async Task<string> ExecAsync(this BenchPod pod, CriClient cri, TimeSpan timeout, params string[] command)
    {
        var reply = await cri.Runtime.ExecSyncAsync(new ExecSyncRequest { ContainerId = pod.ContainerId, Cmd = { command }, Timeout = (long)Math.Ceiling(timeout.TotalSeconds) },
            deadline: DateTime.UtcNow + timeout);
        return reply.ExitCode == 0
            ? reply.Stdout.ToStringUtf8()
            : throw new InvalidOperationException($"`{string.Join(' ', command)}` exited {reply.ExitCode}: {reply.Stderr.ToStringUtf8()}");
    }
}

/// <summary>Host memory as /proc counts it.</summary>
internal static class HostMemory
{
    /// <summary>Proportional set size in KiB, from /proc/PID/smaps_rollup; 0 for a process that is gone.</summary>
    public static long Pss(int pid) => Rollup(pid, "Pss");

    /// <summary>
    /// One field of /proc/PID/smaps_rollup in KiB (<c>Pss</c>, or its parts <c>Pss_Anon</c> and <c>Pss_File</c>); 0 for a
    /// process that is gone.
    /// </summary>
    public static long Rollup(int pid, string field)
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/smaps_rollup").FirstOrDefault(l => l.StartsWith(field + ":", StringComparison.Ordinal));
            return line is null ? 0 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);
        }
        catch (IOException)
        {
            return 0;
        }
    }

    /// <summary>The summed PSS (KiB) of the live processes whose command line mentions every marker.</summary>
    public static long PssOf(params string[] markers) => RollupOf("Pss", markers);

    /// <summary>The summed smaps_rollup <paramref name="field"/> (KiB) of the live processes whose command line mentions every marker.</summary>
    public static long RollupOf(string field, params string[] markers) =>
        HostResources.ProcessesMentioning(markers[0])
            .Where(p => markers.All(m => p.Contains(m, StringComparison.Ordinal)))
            .Sum(p => Rollup(int.Parse(p.Split(':')[0]), field));

    /// <summary>Waits until <paramref name="measure"/> changes by less than 1% over 3 s (or 60 s pass) and returns it: an idle VM's memory settles after boot.</summary>
    public static async Task<long> SettledAsync(Func<long> measure)
    {
        var last = measure();
        for (var i = 0; i < 20; i++)
        {
            await Task.Delay(TimeSpan.FromSeconds(3));
            var now = measure();
            if (Math.Abs(now - last) <= last / 100)
            {
                return now;
            }

            last = now;
        }

        return last;
    }

    public static string MiB(long kib) => $"{kib / 1024.0,7:N1} MiB";
}

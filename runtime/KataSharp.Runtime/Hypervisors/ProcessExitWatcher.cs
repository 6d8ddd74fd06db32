using System.Runtime.InteropServices;
using KataSharp.Native;
using KataSharp.Native.Processes;

namespace KataSharp.Runtime.Hypervisors;

/// <summary>How a watched process ended: the exit code or the signal, when this process could reap it.</summary>
public readonly record struct ProcessExitStatus(int? ExitCode, int? Signal);

/// <summary>
/// Completes when a process exits. A child of this process is reaped with waitpid (so it leaves
/// no zombie and its status is known); a VMM started by another katasharp process is polled.
/// Polling at a short interval is cheap and needs no thread per VM.
/// </summary>
internal static class ProcessExitWatcher
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(50);

    public static async Task<ProcessExitStatus> WaitForChildAsync(int pid, CancellationToken cancellationToken)
    {
        while (true)
        {
            var rc = Libc.WaitPid(pid, out var status, Linux.WNOHANG);
            if (rc == pid)
            {
                return WaitStatus.IsSignaled(status) ? new ProcessExitStatus(null, WaitStatus.TermSignal(status)) : new ProcessExitStatus(WaitStatus.ExitCode(status), null);
            }

            if (rc < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno == Linux.ECHILD)
                {
                    // Someone else reaped it (or it was never our child): fall back to polling.
                    return await WaitForProcessAsync(pid, null, cancellationToken).ConfigureAwait(false);
                }

                if (errno != Linux.EINTR)
                {
                    throw new HypervisorException($"waitpid({pid}) failed: {ErrnoException.Describe(errno)}");
                }
            }

            await Task.Delay(Interval, cancellationToken).ConfigureAwait(false);
        }
    }

    public static async Task<ProcessExitStatus> WaitForProcessAsync(int pid, long? startTime, CancellationToken cancellationToken)
    {
        var identity = new ProcessIdentity(pid, startTime ?? ProcessIdentity.ReadStartTime(pid) ?? -1);
        while (identity.IsAlive)
        {
            await Task.Delay(Interval, cancellationToken).ConfigureAwait(false);
        }

        return new ProcessExitStatus(null, null);
    }
}

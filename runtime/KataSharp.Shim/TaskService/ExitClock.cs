namespace KataSharp.Shim.TaskService;

/// <summary>
/// Puts a guest-reported exit time on the host's clock. The guest's clock is not the host's (under TCG it
/// drifts, and it starts from an RTC with one-second resolution) and the guest is not trusted, yet CRI shows
/// the time as finishedAt beside a startedAt taken on the host: so an exit is reported no earlier than the
/// start returned and no later than the host heard of it. A guest time outside that window is replaced by the time
/// the host heard of the exit, as runc's shim takes its reaper's: containerd takes its own startedAt only once our
/// start has returned, so our start time would put a quick process's finishedAt before containerd's startedAt.
/// </summary>
internal static class ExitClock
{
    public static DateTimeOffset Clamp(DateTimeOffset guestExitedAt, DateTimeOffset startedAt, DateTimeOffset now)
    {
        if (now < startedAt)
        {
            // The host's clock stepped back: the host's own now is the only time that is not made up.
            return now;
        }

        return guestExitedAt < startedAt || guestExitedAt > now ? now : guestExitedAt;
    }
}

namespace KataSharp.Agent.Stats;

/// <summary>
/// Whether a process's exit counts as an OOM kill. runc's shim reports an OOM for any oom_kill in the
/// container's cgroup, and CRI marks the container OOMKilled when that OOM reaches it: so the init's exit
/// carries the OOM when any of the container's processes was OOM-killed while it ran (a shell whose child the
/// kernel killed exits with 137 and no signal of its own). An exec counts only when it was the victim itself,
/// since its exit says nothing about the container.
/// </summary>
internal static class OomVerdict
{
    public static bool Killed(bool isInit, bool killedBySigkill, ulong oomKillsAtStart, ulong oomKillsNow) =>
        oomKillsNow > oomKillsAtStart && (isInit || killedBySigkill);
}

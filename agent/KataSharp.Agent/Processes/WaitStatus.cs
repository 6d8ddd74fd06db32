using KataSharp.Native.Processes;

namespace KataSharp.Agent.Processes;

/// <summary>How and when a process ended.</summary>
internal readonly record struct ProcessExit(int Pid, int RawStatus, DateTimeOffset ExitedAt)
{
    public int ExitStatus => WaitStatus.ToExitStatus(RawStatus);

    public bool KilledBySignal(int signal) => WaitStatus.IsSignaled(RawStatus) && WaitStatus.TermSignal(RawStatus) == signal;
}

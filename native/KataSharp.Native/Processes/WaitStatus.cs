namespace KataSharp.Native.Processes;

/// <summary>Decodes a raw waitpid status the way a shell reports it.</summary>
public static class WaitStatus
{
    public static bool IsExited(int status) => (status & 0x7f) == 0;

    public static bool IsSignaled(int status) => (status & 0x7f) is not 0 and not 0x7f;

    public static int ExitCode(int status) => (status >> 8) & 0xff;

    public static int TermSignal(int status) => status & 0x7f;

    /// <summary>The exit code, or 128 + the signal number for a process killed by a signal.</summary>
    public static int ToExitStatus(int status) =>
        IsSignaled(status) ? 128 + TermSignal(status) : ExitCode(status);
}

using System.Globalization;
using KataSharp.Native;

namespace KataSharp.Runtime.Hypervisors;

/// <summary>
/// A pid plus the process's start time (field 22 of /proc/pid/stat), so that a pid recorded in
/// state.json is never mistaken for an unrelated process that reused the number later.
/// </summary>
public readonly record struct ProcessIdentity(int Pid, long StartTime)
{
    public static ProcessIdentity? Of(int pid) => ReadStartTime(pid) is { } start ? new ProcessIdentity(pid, start) : null;

    /// <summary>True while this very process exists (a zombie counts as gone).</summary>
    public bool IsAlive => ReadStartTime(Pid) == StartTime && !IsZombie(Pid);

    /// <summary>Sends a signal if the process is still this one. Returns false when it is gone.</summary>
    public bool Signal(int signal) => IsAlive && Libc.Kill(Pid, signal) == 0;

    internal static long? ReadStartTime(int pid)
    {
        var fields = ReadStatFields(pid);
        return fields is { Length: > 19 } && long.TryParse(fields[19], NumberStyles.None, CultureInfo.InvariantCulture, out var start) ? start : null;
    }

    private static bool IsZombie(int pid) => ReadStatFields(pid) is { Length: > 0 } fields && fields[0] is "Z" or "X";

    /// <summary>The fields after "pid (comm)": state is [0], starttime is [19]. comm may hold spaces and parentheses.</summary>
    private static string[]? ReadStatFields(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
            var end = stat.LastIndexOf(')');
            return end < 0 ? null : stat[(end + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}

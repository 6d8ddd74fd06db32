using System.Globalization;
using System.Reflection;
using KataSharp.Agent.Cpus;
using KataSharp.Protocol.Agent.V1;

namespace KataSharp.Agent.Service;

/// <summary>GetGuestDetails: what the guest kernel reports about itself.</summary>
internal static class GuestInfo
{
    public static string AgentVersion { get; } =
        typeof(GuestInfo).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    public static GuestDetailsResponse Read(string transport) => new()
    {
        AgentVersion = AgentVersion,
        KernelRelease = ReadTrimmed("/proc/sys/kernel/osrelease"),
        BootId = ReadTrimmed("/proc/sys/kernel/random/boot_id"),
        MemoryTotalBytes = ParseMemTotal(ReadTrimmed("/proc/meminfo")),
        OnlineCpus = CountCpus(ReadTrimmed("/sys/devices/system/cpu/online")),
        Transport = transport,
        UptimeSeconds = ParseUptime(ReadTrimmed("/proc/uptime")),
    };

    /// <summary>MemTotal of /proc/meminfo, in bytes.</summary>
    internal static ulong ParseMemTotal(string meminfo)
    {
        foreach (var line in meminfo.Split('\n'))
        {
            if (line.StartsWith("MemTotal:", StringComparison.Ordinal))
            {
                var fields = line[9..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length > 0 && ulong.TryParse(fields[0], CultureInfo.InvariantCulture, out var kib))
                {
                    return kib * 1024;
                }
            }
        }

        return 0;
    }

    /// <summary>Counts a CPU list such as "0-3,5".</summary>
    internal static uint CountCpus(string list) => CpuList.Parse(list).Count is > 0 and var count ? (uint)count : (uint)Environment.ProcessorCount;

    internal static double ParseUptime(string uptime) =>
        double.TryParse(uptime.Split(' ')[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) ? seconds : 0;

    private static string ReadTrimmed(string path)
    {
        try
        {
            return File.ReadAllText(path).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return string.Empty;
        }
    }
}

using System.Globalization;

namespace KataSharp.Runtime.Hypervisors.Qemu;

/// <summary>
/// The host's TSC frequency, which is the guest's under TCG: QEMU's emulated TSC reads the host's. TCG is what a
/// host without usable KVM runs, usually itself a VM, whose <c>cpu MHz</c> is the TSC's (constant_tsc).
/// </summary>
public static class HostTsc
{
    /// <summary>What the guest is told when the host's frequency cannot be read.</summary>
    public const long FallbackKhz = 2_000_000;

    private static readonly Lazy<long> HostKhz = new(() => ReadKhz(File.Exists("/proc/cpuinfo") ? File.ReadAllText("/proc/cpuinfo") : ""));

    public static long Khz => HostKhz.Value;

    /// <summary>The first CPU's <c>cpu MHz</c> in kHz when its TSC is constant, else <see cref="FallbackKhz"/>.</summary>
    public static long ReadKhz(string cpuinfo)
    {
        var lines = cpuinfo.Split('\n');
        var constant = lines.Any(l => l.StartsWith("flags", StringComparison.Ordinal) && l.Split(' ').Contains("constant_tsc"));
        foreach (var line in lines)
        {
            if (line.StartsWith("cpu MHz", StringComparison.Ordinal) && line.Split(':', 2) is [_, var value]
                && double.TryParse(value.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var mhz) && mhz is > 100 and < 20_000)
            {
                return constant ? (long)Math.Round(mhz * 1000) : FallbackKhz;
            }
        }

        return FallbackKhz;
    }
}

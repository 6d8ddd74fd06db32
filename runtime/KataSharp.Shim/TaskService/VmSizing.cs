using System.Globalization;
using KataSharp.Protocol.Errors;
using KataSharp.Runtime.Configuration;

namespace KataSharp.Shim.TaskService;

/// <summary>What this host can give one VM.</summary>
internal sealed record HostCapacity(int Cpus, long MemoryMiB)
{
    public static HostCapacity Current => new(Environment.ProcessorCount, GC.GetGCMemoryInfo().TotalAvailableMemoryBytes >> 20);
}

/// <summary>
/// Sizes the pod's VM as Kata does: the configured size plus what the CRI sandbox annotations ask for.
/// The annotations come from the pod spec, so they are bounded: vCPUs are clamped to the configuration's
/// maximum and the host's CPUs (more vCPUs than that only slow the guest down), while memory past the
/// maximum is refused (InvalidArgument), since a VM that cannot get its memory must not pretend to have it.
/// </summary>
internal static class VmSizing
{
    public const string CpuQuotaAnnotation = "io.kubernetes.cri.sandbox-cpu-quota";
    public const string CpuPeriodAnnotation = "io.kubernetes.cri.sandbox-cpu-period";
    public const string MemoryAnnotation = "io.kubernetes.cri.sandbox-memory";

    /// <exception cref="KataSharpException">InvalidArgument for a malformed annotation or memory past the maximum.</exception>
    public static (int Vcpus, int MemoryMiB) Size(HypervisorConfig config, IReadOnlyDictionary<string, string> annotations, HostCapacity host)
    {
        long vcpus = config.Vcpus;
        if (Long(annotations, CpuQuotaAnnotation) is > 0 and var quota && Long(annotations, CpuPeriodAnnotation) is > 0 and var period)
        {
            // Rounded up without overflow: quota may be anything up to long.MaxValue.
            vcpus += Math.Min((quota / period) + (quota % period == 0 ? 0 : 1), int.MaxValue);
        }

        var maxVcpus = Math.Min(config.MaxVcpus > 0 ? config.MaxVcpus : host.Cpus, host.Cpus);
        vcpus = Math.Min(vcpus, Math.Max(maxVcpus, config.Vcpus));

        long memoryMiB = config.MemoryMiB;
        if (Long(annotations, MemoryAnnotation) is > 0 and var bytes)
        {
            memoryMiB += (bytes >> 20) + ((bytes & ((1 << 20) - 1)) == 0 ? 0 : 1);
        }

        var maxMemoryMiB = MaxMemoryMiB(config, host);
        if (memoryMiB > maxMemoryMiB)
        {
            throw Errdefs.InvalidArgument(
                $"the pod asks for a VM of {memoryMiB} MiB ({MemoryAnnotation}), past the {maxMemoryMiB} MiB this host and configuration allow");
        }

        return ((int)vcpus, (int)memoryMiB);
    }

    /// <summary>
    /// The RAM the VM boots with so that it can grow to it later (<see cref="HypervisorConfig.MemoryCeilingMiB"/>),
    /// never less than its size and never past what a VM may have at all.
    /// </summary>
    public static int Ceiling(HypervisorConfig config, int memoryMiB, HostCapacity host) =>
        (int)Math.Max(memoryMiB, Math.Min(config.MemoryCeilingMiB, MaxMemoryMiB(config, host)));

    private static long MaxMemoryMiB(HypervisorConfig config, HostCapacity host) =>
        Math.Max(Math.Min(config.MaxMemoryMiB > 0 ? config.MaxMemoryMiB : host.MemoryMiB, host.MemoryMiB), config.MemoryMiB);

    private static long? Long(IReadOnlyDictionary<string, string> annotations, string key)
    {
        if (!annotations.TryGetValue(key, out var s))
        {
            return null;
        }

        return long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v)
            ? v
            : throw Errdefs.InvalidArgument($"annotation {key}: '{(s.Length > 32 ? s[..32] + "…" : s)}' is not an integer");
    }
}

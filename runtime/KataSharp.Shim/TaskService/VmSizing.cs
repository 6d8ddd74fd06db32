using System.Globalization;
using System.Text.Json.Nodes;
using KataSharp.Protocol.Errors;
using KataSharp.Runtime.Configuration;

namespace KataSharp.Shim.TaskService;

/// <summary>What this host can give one VM.</summary>
internal sealed record HostCapacity(int Cpus, long MemoryMiB)
{
    public static HostCapacity Current => new(Environment.ProcessorCount, GC.GetGCMemoryInfo().TotalAvailableMemoryBytes >> 20);
}

/// <summary>
/// Sizes the pod's VM as Kata does: the configured size plus what the CRI sandbox annotations ask for. Where
/// containerd gives no sandbox sizing (`ctr run`, or a pod without resources) the first container's own limits
/// (its spec's linux.resources) stand in for it, as the VM is then that container's alone.
/// The annotations come from the pod spec, so they are bounded: vCPUs are clamped to the configuration's
/// maximum and the host's CPUs (more vCPUs than that only slow the guest down), while memory past the
/// maximum is refused (InvalidArgument), since a VM that cannot get its memory must not pretend to have it.
/// </summary>
internal static class VmSizing
{
    public const string CpuQuotaAnnotation = "io.kubernetes.cri.sandbox-cpu-quota";
    public const string CpuPeriodAnnotation = "io.kubernetes.cri.sandbox-cpu-period";
    public const string MemoryAnnotation = "io.kubernetes.cri.sandbox-memory";

    /// <param name="resources">The first container's OCI LinuxResources, for what the annotations do not size.</param>
    /// <exception cref="KataSharpException">InvalidArgument for a malformed annotation or memory past the maximum.</exception>
    public static (int Vcpus, int MemoryMiB) Size(HypervisorConfig config, IReadOnlyDictionary<string, string> annotations, HostCapacity host, JsonObject? resources = null)
    {
        long vcpus = config.Vcpus;
        if (Long(annotations, CpuQuotaAnnotation) is > 0 and var quota && Long(annotations, CpuPeriodAnnotation) is > 0 and var period)
        {
            // Rounded up without overflow: quota may be anything up to long.MaxValue.
            vcpus += Math.Min((quota / period) + (quota % period == 0 ? 0 : 1), int.MaxValue);
        }
        else if (resources is not null && ResourceFit.CpuLimit(resources) is { } cpus)
        {
            vcpus += (long)Math.Ceiling(Math.Min(cpus, int.MaxValue));
        }

        vcpus = Math.Min(vcpus, MaxVcpus(config, host));

        var maxMemoryMiB = MaxMemoryMiB(config, host);
        long memoryMiB = config.MemoryMiB;
        if (Long(annotations, MemoryAnnotation) is > 0 and var bytes)
        {
            memoryMiB += MiBOf(bytes);
            if (memoryMiB > maxMemoryMiB)
            {
                throw Errdefs.InvalidArgument(
                    $"the pod asks for a VM of {memoryMiB} MiB ({MemoryAnnotation}), past the {maxMemoryMiB} MiB this host and configuration allow");
            }
        }
        else if (resources is not null && ResourceFit.MemoryLimit(resources) is { } limit)
        {
            // A container's own limit past the host is capped there, as runc's is (ResourceFit counts it as the host's size).
            memoryMiB = Math.Min(memoryMiB + MiBOf(limit), maxMemoryMiB);
        }

        return ((int)vcpus, (int)memoryMiB);
    }

    /// <summary>
    /// The RAM the VM boots with so that it can grow to it later (<see cref="HypervisorConfig.MemoryCeilingMiB"/>),
    /// never less than its size and never past what a VM may have at all.
    /// </summary>
    public static int Ceiling(HypervisorConfig config, int memoryMiB, HostCapacity host) =>
        (int)Math.Max(memoryMiB, Math.Min(config.MemoryCeilingMiB, MaxMemoryMiB(config, host)));

    /// <summary>
    /// The vCPUs the VM boots with so that it can bring them online later (<see cref="HypervisorConfig.VcpuCeiling"/>),
    /// never fewer than its size and never more than a VM may have at all.
    /// </summary>
    public static int VcpuCeiling(HypervisorConfig config, int vcpus, HostCapacity host) =>
        Math.Max(vcpus, Math.Min(config.VcpuCeiling, MaxVcpus(config, host)));

    private static int MaxVcpus(HypervisorConfig config, HostCapacity host) =>
        Math.Max(Math.Min(config.MaxVcpus > 0 ? config.MaxVcpus : host.Cpus, host.Cpus), config.Vcpus);

    private static long MaxMemoryMiB(HypervisorConfig config, HostCapacity host) =>
        Math.Max(Math.Min(config.MaxMemoryMiB > 0 ? config.MaxMemoryMiB : host.MemoryMiB, host.MemoryMiB), config.MemoryMiB);

    /// <summary>Bytes in whole MiB, rounded up.</summary>
    private static long MiBOf(long bytes) => (bytes >> 20) + ((bytes & ((1 << 20) - 1)) == 0 ? 0 : 1);

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

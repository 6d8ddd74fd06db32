using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using KataSharp.Protocol;
using KataSharp.Protocol.Errors;

namespace KataSharp.Shim.TaskService;

/// <summary>The size the pod's VM booted with.</summary>
internal sealed record VmSize(int Vcpus, int MemoryMiB);

/// <summary>
/// Checks a container's OCI LinuxResources against the pod's VM. QEMU's microvm machine has neither memory
/// nor vCPU hotplug (no ACPI hotplug controller, no PCI for virtio-mem), so a VM keeps the size it booted
/// with, and a limit past it would be a limit the container can never reach: under runc it could, up to the
/// host. Such a limit is refused with FailedPrecondition, naming what the VM has, instead of being written
/// into the guest's cgroup and silently capped by the VM. A limit past the host is not the VM's doing (runc
/// caps it the same way) and passes.
/// </summary>
internal static class ResourceFit
{
    private const long MiB = 1 << 20;
    private const long DefaultCpuPeriod = 100_000;

    /// <exception cref="KataSharpException">InvalidArgument for resources that are not a JSON object; FailedPrecondition when they do not fit.</exception>
    public static void Require(ReadOnlySpan<byte> resourcesJson, string containerId, VmSize vm, HostCapacity host)
    {
        JsonNode? node;
        try
        {
            node = StrictJson.Parse(resourcesJson);
        }
        catch (JsonException e)
        {
            throw Errdefs.InvalidArgument($"container {containerId}: resources are not valid JSON: {e.Message}");
        }

        Require(node as JsonObject ?? throw Errdefs.InvalidArgument($"container {containerId}: resources must be a JSON object (OCI LinuxResources)"),
            containerId, vm, host);
    }

    /// <exception cref="KataSharpException">FailedPrecondition when the limits do not fit the VM.</exception>
    public static void Require(JsonObject? resources, string containerId, VmSize vm, HostCapacity host)
    {
        if (resources is null)
        {
            return;
        }

        if (MemoryLimit(resources) is { } limit && Math.Min(limit, host.MemoryMiB * MiB) > vm.MemoryMiB * MiB)
        {
            throw Errdefs.FailedPrecondition(
                $"container {containerId}: a memory limit of {Mib(limit)} MiB does not fit this pod's VM of {vm.MemoryMiB} MiB, " +
                "and a micro-VM cannot hotplug memory; size the VM at boot (the pod's resources, hypervisor.memoryMiB)");
        }

        if (CpuLimit(resources) is { } cpus && Math.Min(cpus, host.Cpus) > vm.Vcpus)
        {
            throw Errdefs.FailedPrecondition(
                $"container {containerId}: a CPU limit of {cpus.ToString("0.###", CultureInfo.InvariantCulture)} CPUs does not fit this pod's VM of {vm.Vcpus} vCPUs, " +
                "and a micro-VM cannot hotplug vCPUs; size the VM at boot (the pod's resources, hypervisor.vcpus)");
        }
    }

    /// <summary>memory.limit in bytes, or unified memory.max; null for none (absent, 0, -1 or "max").</summary>
    private static long? MemoryLimit(JsonObject resources)
    {
        if (Int64((resources["memory"] as JsonObject)?["limit"]) is > 0 and var limit)
        {
            return limit;
        }

        return (resources["unified"] as JsonObject)?["memory.max"] is JsonValue max && max.TryGetValue<string>(out var text)
            && long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var bytes) && bytes > 0
            ? bytes
            : null;
    }

    /// <summary>cpu.quota / cpu.period in CPUs, or unified cpu.max; null for none.</summary>
    private static double? CpuLimit(JsonObject resources)
    {
        if (Int64((resources["cpu"] as JsonObject)?["quota"]) is > 0 and var quota)
        {
            var period = Int64((resources["cpu"] as JsonObject)?["period"]) is > 0 and var p ? p : DefaultCpuPeriod;
            return (double)quota / period;
        }

        if ((resources["unified"] as JsonObject)?["cpu.max"] is JsonValue max && max.TryGetValue<string>(out var text))
        {
            var fields = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length > 0 && long.TryParse(fields[0], NumberStyles.None, CultureInfo.InvariantCulture, out var q) && q > 0)
            {
                var period = fields.Length > 1 && long.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out var p) && p > 0 ? p : DefaultCpuPeriod;
                return (double)q / period;
            }
        }

        return null;
    }

    private static long? Int64(JsonNode? node) =>
        node is JsonValue value && value.GetValueKind() == JsonValueKind.Number && value.TryGetValue<long>(out var v) ? v : null;

    private static string Mib(long bytes) => (bytes / (double)MiB).ToString("0.#", CultureInfo.InvariantCulture);
}

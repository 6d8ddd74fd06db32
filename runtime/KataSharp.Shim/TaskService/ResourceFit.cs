using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using KataSharp.Protocol;
using KataSharp.Protocol.Errors;

namespace KataSharp.Shim.TaskService;

/// <summary>
/// The pod's VM: the vCPUs and memory it has now, the RAM it booted with (<paramref name="MemoryCeilingMiB"/>; the
/// balloon holds what the guest does not have yet), the guest's own share (<paramref name="GuestMiB"/>, the
/// configured size a container's limit comes on top of) and the vCPUs it booted with (<paramref name="VcpuCeiling"/>;
/// those past <paramref name="Vcpus"/> are offline in the guest). A ceiling of 0 or below the size means no headroom.
/// </summary>
internal sealed record VmSize(int Vcpus, int MemoryMiB, int MemoryCeilingMiB = 0, int GuestMiB = 0, int VcpuCeiling = 0)
{
    public int CeilingMiB => Math.Max(MemoryMiB, MemoryCeilingMiB);

    public int CeilingVcpus => Math.Max(Vcpus, VcpuCeiling);
}

/// <summary>What the VM must grow to before a container's limits are written: its online vCPUs, its memory (MiB); null where it fits.</summary>
internal sealed record VmGrowth(int? Vcpus = null, int? MemoryMiB = null);

/// <summary>
/// Checks a container's OCI LinuxResources against the pod's VM, as issue 10 asks: never a limit the VM caps
/// without a word. microvm has no hotplug of either, so the headroom is sized at boot. A memory limit past what the
/// VM has grows it, up to the RAM it booted with (a balloon holds the rest); the VM then gets the guest's own share on
/// top of the limit, as far as the ceiling allows. A CPU limit past the VM's online vCPUs brings offline ones online,
/// up to the vCPUs it booted with, as many as the limit rounds up to. Past a ceiling the limit is refused with
/// FailedPrecondition naming it, instead of being written into the guest's cgroup and capped there, where runc would
/// give the container the host. A limit past the host is not the VM's doing (runc caps it the same way): it counts
/// as the host's size.
/// </summary>
internal static class ResourceFit
{
    private const long MiB = 1 << 20;
    private const long DefaultCpuPeriod = 100_000;

    /// <summary>Grows <paramref name="vm"/> so that <paramref name="resources"/> fit it (<see cref="Require(JsonObject?, string, VmSize, HostCapacity)"/>).</summary>
    /// <exception cref="KataSharpException">FailedPrecondition when they do not fit even grown; the VM's own when it cannot grow.</exception>
    public static async Task GrowToFitAsync(IPodVm vm, JsonObject? resources, string containerId, CancellationToken cancellationToken)
    {
        var growth = Require(resources, containerId, vm.Size, HostCapacity.Current);
        if (growth.Vcpus is { } vcpus)
        {
            await vm.GrowVcpusAsync(vcpus, cancellationToken).ConfigureAwait(false);
        }

        if (growth.MemoryMiB is { } memoryMiB)
        {
            await vm.GrowMemoryAsync(memoryMiB, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <returns>What the VM must grow to first; nothing where it fits as it is.</returns>
    /// <exception cref="KataSharpException">InvalidArgument for resources that are not a JSON object; FailedPrecondition when they do not fit.</exception>
    public static VmGrowth Require(ReadOnlySpan<byte> resourcesJson, string containerId, VmSize vm, HostCapacity host) =>
        Require(Object(resourcesJson, containerId), containerId, vm, host);

    /// <exception cref="KataSharpException">InvalidArgument for resources that are not a JSON object.</exception>
    public static JsonObject Object(ReadOnlySpan<byte> resourcesJson, string containerId)
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

        return node as JsonObject ?? throw Errdefs.InvalidArgument($"container {containerId}: resources must be a JSON object (OCI LinuxResources)");
    }

    /// <returns>What the VM must grow to first; nothing where it fits as it is.</returns>
    /// <exception cref="KataSharpException">FailedPrecondition when the limits do not fit the VM, even grown.</exception>
    public static VmGrowth Require(JsonObject? resources, string containerId, VmSize vm, HostCapacity host) =>
        resources is null ? new VmGrowth() : new VmGrowth(RequireVcpus(resources, containerId, vm, host), RequireMemory(resources, containerId, vm, host));

    private static int? RequireVcpus(JsonObject resources, string containerId, VmSize vm, HostCapacity host)
    {
        if (CpuLimit(resources) is not { } cpus || Math.Min(cpus, host.Cpus) is var needed && needed <= vm.Vcpus)
        {
            return null;
        }

        if (needed > vm.CeilingVcpus)
        {
            var limit = cpus.ToString("0.###", CultureInfo.InvariantCulture);
            throw Errdefs.FailedPrecondition(vm.CeilingVcpus > vm.Vcpus
                ? $"container {containerId}: a CPU limit of {limit} CPUs does not fit this pod's VM of {vm.Vcpus} vCPUs, " +
                  $"which can grow to at most the {vm.CeilingVcpus} vCPUs it booted with (hypervisor.vcpuCeiling); size the VM at boot (the pod's resources, hypervisor.vcpus) or raise the ceiling"
                : $"container {containerId}: a CPU limit of {limit} CPUs does not fit this pod's VM of {vm.Vcpus} vCPUs, " +
                  "which booted without headroom to grow (hypervisor.vcpuCeiling); size the VM at boot (the pod's resources, hypervisor.vcpus)");
        }

        return (int)Math.Ceiling(needed);
    }

    private static int? RequireMemory(JsonObject resources, string containerId, VmSize vm, HostCapacity host)
    {
        if (MemoryLimit(resources) is not { } limit || Math.Min(limit, host.MemoryMiB * MiB) is var needed && needed <= vm.MemoryMiB * MiB)
        {
            return null;
        }

        if (needed > vm.CeilingMiB * MiB)
        {
            throw Errdefs.FailedPrecondition(vm.CeilingMiB > vm.MemoryMiB
                ? $"container {containerId}: a memory limit of {Mib(limit)} MiB does not fit this pod's VM of {vm.MemoryMiB} MiB, " +
                  $"which can grow to at most the {vm.CeilingMiB} MiB it booted with (hypervisor.memoryCeilingMiB); size the VM at boot (the pod's resources, hypervisor.memoryMiB) or raise the ceiling"
                : $"container {containerId}: a memory limit of {Mib(limit)} MiB does not fit this pod's VM of {vm.MemoryMiB} MiB, " +
                  "which booted without headroom to grow (hypervisor.memoryCeilingMiB); size the VM at boot (the pod's resources, hypervisor.memoryMiB)");
        }

        var neededMiB = (needed + MiB - 1) / MiB;
        return (int)Math.Min(vm.CeilingMiB, neededMiB + Math.Max(vm.GuestMiB, 0));
    }

    /// <summary>memory.limit in bytes, or unified memory.max; null for none (absent, 0, -1 or "max").</summary>
    internal static long? MemoryLimit(JsonObject resources)
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
    internal static double? CpuLimit(JsonObject resources)
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

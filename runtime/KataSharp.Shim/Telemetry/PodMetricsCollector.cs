using KataSharp.Protocol.Agent.V1;
using KataSharp.Protocol.Errors;
using KataSharp.Runtime.Metrics;
using KataSharp.Shim.TaskService;

namespace KataSharp.Shim.Telemetry;

/// <summary>
/// One scrape of a pod: the VMM process's CPU and memory from /proc, the guest's memory and each running
/// container's cgroup figures from the agent, the boot time, and every agent call this shim made. A figure
/// that cannot be had right now (a container just exited) is left out of this scrape, never made up.
/// </summary>
internal sealed class PodMetricsCollector(PodMetricsSource source, IPodAgent agent, Func<IReadOnlyList<string>> runningContainers, AgentRpcMetrics rpcs)
{
    private const double MicrosecondsPerSecond = 1e6;

    public async Task<string> CollectAsync(CancellationToken cancellationToken)
    {
        var text = new MetricsText();
        if (source.BootTime is { } boot)
        {
            text.Family("katasharp_sandbox_boot_seconds", MetricType.Gauge, "From the sandbox's creation until its agent served it.")
                .Sample("katasharp_sandbox_boot_seconds", boot.TotalSeconds);
        }

        if (source.VmmPid is { } pid && ProcessFootprint.Read(pid) is { } vmm)
        {
            text.Family("katasharp_vmm_cpu_seconds_total", MetricType.Counter, "CPU time (user and system) the VMM process used.")
                .Sample("katasharp_vmm_cpu_seconds_total", vmm.CpuSeconds)
                .Family("katasharp_vmm_rss_bytes", MetricType.Gauge, "The VMM process's resident memory.")
                .Sample("katasharp_vmm_rss_bytes", vmm.RssBytes)
                .Family("katasharp_vmm_pss_bytes", MetricType.Gauge, "The VMM process's proportional set size (shared pages divided among their users).")
                .Sample("katasharp_vmm_pss_bytes", vmm.PssBytes);
        }

        await WriteGuestMemoryAsync(text, cancellationToken).ConfigureAwait(false);
        await WriteContainersAsync(text, cancellationToken).ConfigureAwait(false);
        rpcs.WriteTo(text);
        return text.ToString();
    }

    private async Task WriteGuestMemoryAsync(MetricsText text, CancellationToken cancellationToken)
    {
        GuestMemoryResponse memory;
        try
        {
            memory = await source.GuestMemoryAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (KataSharpException)
        {
            return;
        }

        text.Family("katasharp_guest_memory_bytes", MetricType.Gauge, "The guest's memory as its /proc/meminfo counts it, by kind.")
            .Sample("katasharp_guest_memory_bytes", memory.TotalBytes, ("kind", "total"))
            .Sample("katasharp_guest_memory_bytes", memory.FreeBytes, ("kind", "free"))
            .Sample("katasharp_guest_memory_bytes", memory.AvailableBytes, ("kind", "available"))
            .Sample("katasharp_guest_memory_bytes", memory.CachedBytes, ("kind", "cached"));
    }

    private async Task WriteContainersAsync(MetricsText text, CancellationToken cancellationToken)
    {
        var stats = new List<(string Id, StatsContainerResponse Stats)>();
        foreach (var id in runningContainers())
        {
            try
            {
                stats.Add((id, await agent.StatsAsync(id, cancellationToken).ConfigureAwait(false)));
            }
            catch (KataSharpException)
            {
                // Exited between the listing and the call.
            }
        }

        if (stats.Count == 0)
        {
            return;
        }

        text.Family("katasharp_container_cpu_seconds_total", MetricType.Counter, "CPU time the container's cgroup in the guest used.");
        foreach (var (id, s) in stats)
        {
            text.Sample("katasharp_container_cpu_seconds_total", (s.Cpu?.UsageUsec ?? 0) / MicrosecondsPerSecond, ("container", id));
        }

        text.Family("katasharp_container_memory_usage_bytes", MetricType.Gauge, "Memory charged to the container's cgroup in the guest.");
        foreach (var (id, s) in stats)
        {
            text.Sample("katasharp_container_memory_usage_bytes", s.Memory?.Usage ?? 0, ("container", id));
        }

        text.Family("katasharp_container_pids", MetricType.Gauge, "Tasks in the container's cgroup in the guest.");
        foreach (var (id, s) in stats)
        {
            text.Sample("katasharp_container_pids", s.Pids?.Current ?? 0, ("container", id));
        }
    }
}

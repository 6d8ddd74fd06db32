using System.Globalization;
using System.Text.Json;
using KataSharp.Protocol.Cri.V1;

namespace KataSharp.Tests.EndToEnd.Behaviour;

// Owned by the helper "stats": container status, stats and resources (issue 10 item 5).
public static class StatusChecks
{
    private const long MiB = 1 << 20;

    /// <summary>What an <see cref="AllocatingContainer"/> holds in memory and writes to its rootfs.</summary>
    private const long AllocatedBytes = 24 * MiB;

    private const long WrittenBytes = 8 * MiB;

    private static readonly TimeSpan StatsTimeout = TimeSpan.FromSeconds(90);

    public static IReadOnlyList<BehaviourCheck> All { get; } =
    [
        new("status/completed", async ctx =>
        {
            var status = await RunToExitAsync(ctx, ctx.NewContainer("sh", "-c", "sleep 2; exit 0"));
            Assert.Equal(0, status.ExitCode);
            Assert.Equal("Completed", status.Reason);
        }),
        new("status/error", async ctx =>
        {
            var status = await RunToExitAsync(ctx, ctx.NewContainer("sh", "-c", "sleep 2; exit 3"));
            Assert.Equal(3, status.ExitCode);
            Assert.Equal("Error", status.Reason);
        }),
        // The init itself is the OOM killer's victim: tail buffers /dev/zero's endless line.
        new("status/oom-killed", async ctx =>
        {
            var status = await OomAsync(ctx, "exec tail /dev/zero");
            Assert.Equal(137, status.ExitCode);
        }),
        // A child is the victim and the init exits on its own: the container still ran out of memory.
        new("status/oom-killed-child", async ctx =>
        {
            var status = await OomAsync(ctx, "tail /dev/zero; sleep 1; exit 0");
            Assert.Equal(0, status.ExitCode);
        }),
        new("stats/containers", async ctx =>
        {
            var label = Guid.NewGuid().ToString("N");
            var pod = await ctx.RunPodAsync();
            var hog = await ctx.StartContainerAsync(AllocatingContainer(ctx, c => c.Labels["ks-check"] = label), pod);
            var idle = await ctx.StartContainerAsync(ctx.NewContainer(), pod);
            await WaitForAllocationAsync(ctx, hog);

            var byId = Assert.Single(await ListAsync(ctx, new ContainerStatsFilter { Id = hog }));
            Assert.Equal(hog, byId.Attributes.Id);
            AssertUsage(byId.Cpu, byId.Memory);
            var byLabel = Assert.Single(await ListAsync(ctx, new ContainerStatsFilter { LabelSelector = { ["ks-check"] = label } }));
            Assert.Equal(hog, byLabel.Attributes.Id);
            Assert.Equal(label, byLabel.Attributes.Labels["ks-check"]);
            var inPod = (await ListAsync(ctx, new ContainerStatsFilter { PodSandboxId = pod.Id })).Select(s => s.Attributes.Id).Order().ToArray();
            Assert.Equal(new[] { hog, idle }.Order().ToArray(), inPod);
            Assert.Equal(idle, (await ctx.Cri.Runtime.ContainerStatsAsync(new ContainerStatsRequest { ContainerId = idle })).Stats.Attributes.Id);

            // containerd measures the writable layer on the host, every few seconds.
            ulong written = 0;
            await UntilAsync(async () => (written = Assert.Single(await ListAsync(ctx, new ContainerStatsFilter { Id = hog })).WritableLayer?.UsedBytes?.Value ?? 0) >= WrittenBytes,
                StatsTimeout, () => $"the writable layer holds {written} bytes, not the {WrittenBytes} the container wrote");
        }),
        new("stats/pod-sandbox", async ctx =>
        {
            // PodSandboxStats reads the pod's cgroup parent on the host, so the pod gets one of its own.
            var parent = $"/ks-check-{Guid.NewGuid():N}";
            var label = Guid.NewGuid().ToString("N");
            try
            {
                await using var pod = await CriPod.RunAsync(ctx.Cri, $"pod-sandbox-{label[..8]}", ctx.Handler, p =>
                {
                    p.Linux.CgroupParent = parent;
                    p.Labels["ks-check"] = label;
                });
                var hog = await ctx.StartContainerAsync(AllocatingContainer(ctx, _ => { }), pod);
                await WaitForAllocationAsync(ctx, hog);

                var stats = (await ctx.Cri.Runtime.PodSandboxStatsAsync(new PodSandboxStatsRequest { PodSandboxId = pod.Id })).Stats;
                Assert.Equal(pod.Id, stats.Attributes.Id);
                // The pod holds at least what its container holds: under katasharp the VM is born in the pod's
                // cgroup, so the guest RAM the container touched is charged there.
                AssertUsage(stats.Linux.Cpu, stats.Linux.Memory);
                var inPod = Assert.Single(stats.Linux.Containers, c => c.Attributes.Id == hog);
                AssertUsage(inPod.Cpu, inPod.Memory);
                await AssertSandboxInItsCgroupAsync(ctx, pod);
                var usage = PodMemoryUsage(parent);
                Assert.True(usage >= AllocatedBytes, $"the pod's cgroup {parent} uses {usage} bytes, less than the {AllocatedBytes} its container holds");
                var byLabel = (await ctx.Cri.Runtime.ListPodSandboxStatsAsync(new ListPodSandboxStatsRequest
                {
                    Filter = new PodSandboxStatsFilter { LabelSelector = { ["ks-check"] = label } },
                })).Stats;
                Assert.Equal(pod.Id, Assert.Single(byLabel).Attributes.Id);
                var byId = (await ctx.Cri.Runtime.ListPodSandboxStatsAsync(new ListPodSandboxStatsRequest { Filter = new PodSandboxStatsFilter { Id = pod.Id } })).Stats;
                Assert.Equal(pod.Id, Assert.Single(byId).Attributes.Id);
            }
            finally
            {
                await RemoveCgroupParentAsync(parent);
            }
        }),
        new("resources/update", async ctx =>
        {
            var id = await ctx.StartContainerAsync(c => c.Linux.Resources = new LinuxContainerResources
            {
                MemoryLimitInBytes = 96 * MiB,
                CpuPeriod = 100_000,
                CpuQuota = 100_000,
                CpuShares = 1024,
            });
            var weightBefore = await CpuWeightAsync(ctx, id);

            await ctx.Cri.Runtime.UpdateContainerResourcesAsync(new UpdateContainerResourcesRequest
            {
                ContainerId = id,
                Linux = new LinuxContainerResources { MemoryLimitInBytes = 48 * MiB, CpuPeriod = 100_000, CpuQuota = 50_000, CpuShares = 512 },
            });

            Assert.Equal((48 * MiB).ToString(CultureInfo.InvariantCulture), await MemoryLimitAsync(ctx, id));
            Assert.Equal("50000 100000", await CpuMaxAsync(ctx, id));
            Assert.NotEqual(weightBefore, await CpuWeightAsync(ctx, id));
        }),
        // Past what the pod's VM has (its 512 MiB default, which cannot hold 512 MiB for a container besides the guest's own): runc lets the container grow to the host, and
        // katasharp grows the VM (up to hypervisor.memoryCeilingMiB, past which it refuses). The container then
        // really holds more than the VM booted with, and its kernel counts the memory as there.
        new("resources/update-past-the-vm", async ctx =>
        {
            const long limit = 768 * MiB, held = 512 * MiB;
            var id = await ctx.StartContainerAsync(c => c.Linux.Resources = new LinuxContainerResources { MemoryLimitInBytes = 64 * MiB });

            await ctx.Cri.Runtime.UpdateContainerResourcesAsync(new UpdateContainerResourcesRequest
            {
                ContainerId = id,
                Linux = new LinuxContainerResources { MemoryLimitInBytes = limit },
            });

            Assert.Equal(limit.ToString(CultureInfo.InvariantCulture), await MemoryLimitAsync(ctx, id));
            var memTotalKiB = long.Parse((await ctx.ShAsync(id, "awk '/^MemTotal:/ { print $2 }' /proc/meminfo")).Trim(), CultureInfo.InvariantCulture);
            Assert.True(memTotalKiB * 1024 >= limit, $"MemTotal {memTotalKiB} kB is less than the {limit} bytes the container may use");
            // dd fills its one buffer from /dev/zero: all of it is touched at once.
            Assert.Equal("held", (await ctx.ShAsync(id, $"dd if=/dev/zero of=/dev/null bs={held} count=1 2>/dev/null && echo held")).Trim());
        }),
        // A CPU quota past the pod's VM's vCPUs (1 unless the pod asks for more): runc's container runs on the host's
        // CPUs; katasharp's VM booted with more vCPUs than it brought online (hypervisor.vcpuCeiling) and onlines as many
        // as the quota needs before the quota reaches the guest. Either way the container sees the CPUs its quota may use.
        new("resources/update-cpu-past-the-vm", async ctx =>
        {
            var cpus = Math.Min(2, Environment.ProcessorCount);
            var id = await ctx.StartContainerAsync(c => c.Linux.Resources = new LinuxContainerResources { CpuPeriod = 100_000, CpuQuota = 50_000 });

            await ctx.Cri.Runtime.UpdateContainerResourcesAsync(new UpdateContainerResourcesRequest
            {
                ContainerId = id,
                Linux = new LinuxContainerResources { CpuPeriod = 100_000, CpuQuota = cpus * 100_000 },
            });

            Assert.Equal($"{cpus * 100_000} 100000", await CpuMaxAsync(ctx, id));
            var nproc = int.Parse((await ctx.ShAsync(id, "nproc")).Trim(), CultureInfo.InvariantCulture);
            Assert.True(nproc >= cpus, $"nproc says {nproc} CPUs, fewer than the {cpus} the container's quota may use");
            var online = (await ctx.ShAsync(id, "cat /sys/devices/system/cpu/online")).Trim();
            Assert.True(CpuCount(online) >= cpus, $"/sys/devices/system/cpu/online is {online}, fewer than the {cpus} CPUs the container's quota may use");
        }),
    ];

    /// <summary>Runs a container to its exit and checks its times: created, started and finished in that order, on the host's clock.</summary>
    private static async Task<ContainerStatus> RunToExitAsync(CheckContext ctx, ContainerConfig config)
    {
        var before = DateTimeOffset.UtcNow;
        var status = await ctx.WaitForExitAsync(await ctx.StartContainerAsync(config));
        var after = DateTimeOffset.UtcNow;
        var (created, started, finished) = (Time(status.CreatedAt), Time(status.StartedAt), Time(status.FinishedAt));
        Assert.InRange(created, before, after);
        Assert.InRange(started, created, after);
        Assert.InRange(finished, started, after);
        return status;
    }

    /// <summary>Runs <paramref name="command"/> under a 32 MiB limit to its exit; CRI must call it OOMKilled.</summary>
    /// <summary>
    /// Runs <paramref name="script"/> in a container with a 32 MiB limit, but only once StartContainer has returned:
    /// runc's shim starts watching the cgroup's memory.events in Start, and it never reports an OOM that came before
    /// (containerd then gives the reason Error). The script waits for a file that an exec makes.
    /// </summary>
    private static async Task<ContainerStatus> OomAsync(CheckContext ctx, string script)
    {
        var config = ctx.NewContainer("sh", "-c", $"until [ -e /ks-oom-go ]; do sleep 0.1; done; {script}");
        config.Linux.Resources = new LinuxContainerResources { MemoryLimitInBytes = 32 * MiB };
        var id = await ctx.StartContainerAsync(config);
        await ctx.ShAsync(id, "touch /ks-oom-go");
        var status = await ctx.WaitForExitAsync(id);
        // CRI learns of the OOM from the event stream, which may trail the exit it got from Wait.
        await UntilAsync(async () => (status = (await ctx.Cri.Runtime.ContainerStatusAsync(new ContainerStatusRequest { ContainerId = id })).Status).Reason == "OOMKilled",
            TimeSpan.FromSeconds(30), () => $"reason {status.Reason}, exit {status.ExitCode}");
        return status;
    }

    /// <summary>
    /// A container that writes <see cref="WrittenBytes"/> to its rootfs and then holds <see cref="AllocatedBytes"/>: dd's
    /// buffer, filled from /dev/zero, stays allocated while dd blocks writing it to a reader that never reads.
    /// </summary>
    private static ContainerConfig AllocatingContainer(CheckContext ctx, Action<ContainerConfig> configure)
    {
        var config = ctx.NewContainer("sh", "-c",
            $"head -c {WrittenBytes} /dev/zero > /written && sync && dd if=/dev/zero bs={AllocatedBytes} count=1 2>/dev/null | sleep 1000000");
        configure(config);
        return config;
    }

    /// <summary>Waits until dd holds its whole buffer, as the container's own /proc says.</summary>
    private static Task WaitForAllocationAsync(CheckContext ctx, string id)
    {
        long rssKiB = 0;
        return UntilAsync(async () =>
        {
            var status = await ctx.ExecAsync(id, "sh", "-c", "grep VmRSS /proc/$(pidof dd)/status");
            var fields = status.Stdout.ToStringUtf8().Split((char[])[' ', '\t', '\n'], StringSplitOptions.RemoveEmptyEntries);
            return status.ExitCode == 0 && fields is ["VmRSS:", var kib, "kB"] && long.TryParse(kib, CultureInfo.InvariantCulture, out rssKiB)
                && rssKiB * 1024 >= AllocatedBytes;
        }, TimeSpan.FromMinutes(2), () => $"{id} never held its {AllocatedBytes} bytes (dd's VmRSS {rssKiB} kB)");
    }

    private static void AssertUsage(CpuUsage cpu, MemoryUsage memory)
    {
        Assert.True(cpu.UsageCoreNanoSeconds?.Value > 0, $"cpu {cpu}");
        Assert.True(memory.WorkingSetBytes?.Value >= AllocatedBytes, $"memory {memory}: less than the {AllocatedBytes} bytes the container holds");
        Assert.True(memory.UsageBytes?.Value >= memory.WorkingSetBytes.Value, $"memory {memory}");
    }

    /// <summary>
    /// The sandbox's process (the pause process under runc, QEMU under katasharp) is in the sandbox's cgroupsPath in the
    /// memory hierarchy, as the process's own /proc says.
    /// </summary>
    private static async Task AssertSandboxInItsCgroupAsync(CheckContext ctx, CriPod pod)
    {
        var status = await ctx.Cri.Runtime.PodSandboxStatusAsync(new PodSandboxStatusRequest { PodSandboxId = pod.Id, Verbose = true });
        using var info = JsonDocument.Parse(status.Info["info"]);
        var pid = info.RootElement.GetProperty("pid").GetInt32();
        var cgroupsPath = info.RootElement.GetProperty("runtimeSpec").GetProperty("linux").GetProperty("cgroupsPath").GetString();
        var lines = await File.ReadAllLinesAsync($"/proc/{pid}/cgroup");
        // "4:memory:/path" on a v1 (or hybrid) host, "0::/path" on a v2 one.
        var memory = lines.Select(l => l.Split(':', 3)).FirstOrDefault(f => f[1].Split(',').Contains("memory")) ?? lines.Select(l => l.Split(':', 3)).Single(f => f[0] == "0");
        Assert.True(memory[2] == cgroupsPath, $"the sandbox's process {pid} is in {memory[2]}, not in its cgroupsPath {cgroupsPath}: {string.Join(' ', lines)}");
    }

    /// <summary>What the kernel charges to the pod's cgroup parent: everything of the pod, the sandbox and every container.</summary>
    private static long PodMemoryUsage(string parent)
    {
        const string root = "/sys/fs/cgroup";
        var file = File.Exists(Path.Combine(root, "cgroup.controllers"))
            ? Path.Join(root, parent, "memory.current")
            : Path.Join(root, "memory", parent, "memory.usage_in_bytes");
        return long.Parse(File.ReadAllText(file).Trim(), CultureInfo.InvariantCulture);
    }

    private static async Task<IReadOnlyList<ContainerStats>> ListAsync(CheckContext ctx, ContainerStatsFilter filter) =>
        (await ctx.Cri.Runtime.ListContainerStatsAsync(new ListContainerStatsRequest { Filter = filter })).Stats;

    // The container's own cgroup, as it sees it: cgroup v2 files, or v1's where the host (runc) has v1.
    private static async Task<string> MemoryLimitAsync(CheckContext ctx, string id) =>
        (await ctx.ShAsync(id, "cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes")).Trim();

    private static async Task<string> CpuMaxAsync(CheckContext ctx, string id) =>
        (await ctx.ShAsync(id, "cat /sys/fs/cgroup/cpu.max 2>/dev/null || echo \"$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) $(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us)\"")).Trim();

    /// <summary>Counts a kernel CPU list such as "0-3,5".</summary>
    private static int CpuCount(string list) =>
        list.Split(',', StringSplitOptions.RemoveEmptyEntries).Sum(part => part.Split('-') is [var from, var to]
            ? int.Parse(to, CultureInfo.InvariantCulture) - int.Parse(from, CultureInfo.InvariantCulture) + 1
            : 1);

    private static async Task<string> CpuWeightAsync(CheckContext ctx, string id) =>
        (await ctx.ShAsync(id, "cat /sys/fs/cgroup/cpu.weight 2>/dev/null || cat /sys/fs/cgroup/cpu/cpu.shares")).Trim();

    /// <summary>Removes the pod's cgroup parent from every hierarchy once the runtime has removed what it made below it.</summary>
    private static async Task RemoveCgroupParentAsync(string parent)
    {
        const string root = "/sys/fs/cgroup";
        var candidates = Directory.GetDirectories(root).Prepend(root).Select(h => Path.Combine(h, parent.TrimStart('/'))).Where(Directory.Exists).ToList();
        foreach (var dir in candidates)
        {
            await UntilAsync(() =>
            {
                try
                {
                    Directory.Delete(dir);
                    return Task.FromResult(true);
                }
                catch (IOException)
                {
                    return Task.FromResult(false);
                }
            }, TimeSpan.FromSeconds(30), () => $"{dir} still has {string.Join(", ", Directory.GetDirectories(dir))}: the runtime left its pod cgroup behind");
        }
    }

    private static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, Func<string> failure)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new CheckFailedException(failure());
            }

            await Task.Delay(TimeSpan.FromMilliseconds(250));
        }
    }

    private static DateTimeOffset Time(long unixNanoseconds) => DateTimeOffset.UnixEpoch.AddTicks(unixNanoseconds / 100);
}

using KataSharp.Protocol.Cri.V1;
using static KataSharp.Tests.EndToEnd.Behaviour.ProcessStatus;

namespace KataSharp.Tests.EndToEnd.Behaviour;

// Owned by the helper "suite": the security context (issue 10 item 2).
public static class SecurityContextChecks
{
    /// <summary>Where a <see cref="StatusRecordingContainer"/>'s init leaves its own /proc/PID/status.</summary>
    private const string InitStatusFile = "/tmp/init-status";

    public static IReadOnlyList<BehaviourCheck> All { get; } =
    [
        new("security/run-as-user", async ctx =>
        {
            var id = await ctx.StartContainerAsync(StatusRecordingContainer(ctx, c => c.Linux.SecurityContext.RunAsUser = new Int64Value { Value = 1234 }));
            var (init, exec) = await StatusesAsync(ctx, id);
            Assert.Equal([1234, 1234, 1234, 1234], init.Uid);
            Assert.Equal([1234, 1234, 1234, 1234], exec.Uid);
            Assert.Equal("1234", (await ctx.ShAsync(id, "id -u")).Trim());
        }),
        new("security/run-as-group", async ctx =>
        {
            var id = await ctx.StartContainerAsync(StatusRecordingContainer(ctx, c =>
            {
                c.Linux.SecurityContext.RunAsUser = new Int64Value { Value = 1234 };
                c.Linux.SecurityContext.RunAsGroup = new Int64Value { Value = 2345 };
            }));
            var (init, exec) = await StatusesAsync(ctx, id);
            Assert.Equal([2345, 2345, 2345, 2345], init.Gid);
            Assert.Equal([2345, 2345, 2345, 2345], exec.Gid);
            Assert.Equal("2345", (await ctx.ShAsync(id, "id -g")).Trim());
        }),
        new("security/capabilities-default", async ctx =>
            AssertCapabilities(await StatusesAsync(ctx, await ctx.StartContainerAsync(StatusRecordingContainer(ctx, _ => { }))), ContainerdDefaultCapabilities)),
        new("security/capabilities-add", async ctx =>
        {
            var id = await ctx.StartContainerAsync(StatusRecordingContainer(ctx, c =>
                c.Linux.SecurityContext.Capabilities = new Capability { AddCapabilities = { "NET_ADMIN", "SYS_ADMIN", "SYS_TIME" } }));
            AssertCapabilities(await StatusesAsync(ctx, id), ContainerdDefaultCapabilities | Mask(Cap.NetAdmin, Cap.SysAdmin, Cap.SysTime));
        }),
        new("security/capabilities-drop", async ctx =>
        {
            var id = await ctx.StartContainerAsync(StatusRecordingContainer(ctx, c =>
                c.Linux.SecurityContext.Capabilities = new Capability { DropCapabilities = { "NET_RAW", "CHOWN", "KILL" } }));
            AssertCapabilities(await StatusesAsync(ctx, id), ContainerdDefaultCapabilities & ~Mask(Cap.NetRaw, Cap.Chown, Cap.Kill));
        }),
        new("security/capabilities-drop-all-add", async ctx =>
        {
            var id = await ctx.StartContainerAsync(StatusRecordingContainer(ctx, c =>
                c.Linux.SecurityContext.Capabilities = new Capability { DropCapabilities = { "ALL" }, AddCapabilities = { "NET_BIND_SERVICE" } }));
            AssertCapabilities(await StatusesAsync(ctx, id), Mask(Cap.NetBindService));
        }),
        new("security/capabilities-drop-all", async ctx =>
        {
            var id = await ctx.StartContainerAsync(StatusRecordingContainer(ctx, c =>
                c.Linux.SecurityContext.Capabilities = new Capability { DropCapabilities = { "ALL" } }));
            AssertCapabilities(await StatusesAsync(ctx, id), 0);
            // Without CAP_CHOWN even root cannot give a file away.
            var chown = await ctx.ExecAsync(id, "chown", "1:1", InitStatusFile);
            Assert.NotEqual(0, chown.ExitCode);
        }),
        // kubelet gives a hostNetwork pod no hostname: it keeps the node's, in the node's UTS namespace.
        HostNamespace("security/host-network", "net", p => (p.Hostname, p.Linux.SecurityContext.NamespaceOptions.Network) = ("", NamespaceMode.Node),
            async (ctx, id) => await ctx.ShAsync(id, $"ip link show {ctx.Containerd.BridgeName}")),
        HostNamespace("security/host-pid", "pid", p => p.Linux.SecurityContext.NamespaceOptions.Pid = NamespaceMode.Node, async (ctx, id) =>
            Assert.Equal(File.ReadAllText("/proc/self/cmdline").Replace('\0', ' '), await ctx.ShAsync(id, $"tr '\\0' ' ' < /proc/{Environment.ProcessId}/cmdline"))),
        // With the host's IPC namespace comes the host's /dev/shm.
        HostNamespace("security/host-ipc", "ipc", p => p.Linux.SecurityContext.NamespaceOptions.Ipc = NamespaceMode.Node, async (ctx, id) =>
        {
            var marker = $"/dev/shm/ks-check-{Guid.NewGuid():N}";
            await File.WriteAllTextAsync(marker, "from the host");
            try
            {
                Assert.Equal("from the host", await ctx.ShAsync(id, $"cat {marker}"));
            }
            finally
            {
                File.Delete(marker);
            }
        }),
    ];

    /// <summary>
    /// A container whose init (sh, before it execs sleep) writes its own /proc/PID/status to
    /// <see cref="InitStatusFile"/>, so a check sees the init's credentials as well as an exec's.
    /// </summary>
    private static ContainerConfig StatusRecordingContainer(CheckContext ctx, Action<ContainerConfig> configure)
    {
        var config = ctx.NewContainer("sh", "-c", $"cat /proc/$$/status > {InitStatusFile}.part && mv {InitStatusFile}.part {InitStatusFile} && exec sleep 1000000");
        configure(config);
        return config;
    }

    private static async Task<(ProcessStatus Init, ProcessStatus Exec)> StatusesAsync(CheckContext ctx, string containerId)
    {
        var init = await ctx.ShAsync(containerId, $"i=0; while [ ! -e {InitStatusFile} ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; cat {InitStatusFile}");
        // The exec'd process is cat itself, as an exec's credentials are what it sees.
        var exec = await ctx.ExecAsync(containerId, "cat", "/proc/self/status");
        if (exec.ExitCode != 0)
        {
            throw new CheckFailedException($"cat /proc/self/status exited {exec.ExitCode}: {exec.Stderr.ToStringUtf8()}");
        }

        return (Parse(init), Parse(exec.Stdout.ToStringUtf8()));
    }

    /// <summary>Effective, permitted and bounding sets are all <paramref name="expected"/>, for init and exec alike; nothing is ambient.</summary>
    private static void AssertCapabilities((ProcessStatus Init, ProcessStatus Exec) statuses, ulong expected)
    {
        foreach (var (who, status) in new[] { ("init", statuses.Init), ("exec", statuses.Exec) })
        {
            var seen = (status.CapEff, status.CapPrm, status.CapBnd, status.CapAmb);
            if (seen != (expected, expected, expected, 0UL))
            {
                throw new CheckFailedException($"{who}: expected CapEff=CapPrm=CapBnd={expected:x16}, CapAmb=0; saw {status}");
            }
        }
    }

    /// <summary>
    /// A pod and container in the host's <paramref name="kind"/> namespace, what kubelet asks for with hostNetwork,
    /// hostPID or hostIPC, run on the host's kernel (its boot id) in the namespace containerd and this test run in. The inode
    /// alone would not do: every kernel's initial namespaces have the same fixed numbers.
    /// </summary>
    /// <param name="seesHost">Asserts, given the container, what only the host's namespace shows (a host process, the host's bridge).</param>
    private static BehaviourCheck HostNamespace(string name, string kind, Action<PodSandboxConfig> toHost, Func<CheckContext, string, Task> seesHost) => new(name, async ctx =>
    {
        var pod = await ctx.RunPodAsync(toHost);
        var config = ctx.NewContainer();
        config.Linux.SecurityContext.NamespaceOptions = pod.Config.Linux.SecurityContext.NamespaceOptions.Clone();
        var id = await ctx.StartContainerAsync(config, pod);
        Assert.Equal(File.ReadAllText("/proc/sys/kernel/random/boot_id").Trim(), (await ctx.ShAsync(id, "cat /proc/sys/kernel/random/boot_id")).Trim());
        Assert.Equal(await HostCommand.OutputAsync("readlink", $"/proc/self/ns/{kind}"), (await ctx.ShAsync(id, $"readlink /proc/self/ns/{kind}")).Trim());
        await seesHost(ctx, id);
    });
}

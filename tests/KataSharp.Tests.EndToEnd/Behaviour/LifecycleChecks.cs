using Grpc.Core;
using KataSharp.Protocol.Cri.V1;

namespace KataSharp.Tests.EndToEnd.Behaviour;

// Owned by the helper "mounts": restarts in a pod, idempotent stop and remove, NotFound.
public static class LifecycleChecks
{
    private static readonly TimeSpan CallTimeout = ContainerdTestbed.CallTimeout;

    public static IReadOnlyList<BehaviourCheck> All { get; } =
    [
        new("lifecycle/restart-only-container", async ctx =>
        {
            // kubelet's restartPolicy: the pod's only container exited; its next attempt runs in the same pod.
            var pod = await ctx.RunPodAsync();
            var config = ctx.NewContainer("sh", "-c", "echo first > /dev/shm/attempt; exit 3");
            var first = await ctx.StartContainerAsync(config, pod);
            Assert.Equal(3, (await ctx.WaitForExitAsync(first)).ExitCode);
            var second = await ctx.StartContainerAsync(NextAttempt(ctx.NewContainer(), config), pod);
            Assert.Equal("second attempt", (await ctx.ShAsync(second, "echo second attempt")).Trim());
            Assert.Equal(1u, (await StatusAsync(ctx, second)).Metadata.Attempt);
            var previous = await StatusAsync(ctx, first);
            Assert.Equal((ContainerState.ContainerExited, 3), (previous.State, previous.ExitCode));
            // The pod survived its only container's exit: what the first attempt left in the pod's /dev/shm is still there.
            Assert.Equal("first", (await ctx.ShAsync(second, "cat /dev/shm/attempt")).Trim());
        }),
        new("lifecycle/restart-after-previous-removed", async ctx =>
        {
            // The previous attempt is garbage-collected before the next one is created: for a while the pod has no app container.
            var pod = await ctx.RunPodAsync();
            var config = ctx.NewContainer("true");
            var first = await ctx.StartContainerAsync(config, pod);
            Assert.Equal(0, (await ctx.WaitForExitAsync(first)).ExitCode);
            await ctx.Cri.Runtime.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = first }, deadline: Deadline);
            var second = await ctx.StartContainerAsync(NextAttempt(ctx.NewContainer(), config), pod);
            Assert.Equal("running", (await ctx.ShAsync(second, "echo running")).Trim());
            var containers = await ctx.Cri.Runtime.ListContainersAsync(new ListContainersRequest { Filter = new ContainerFilter { PodSandboxId = pod.Id } }, deadline: Deadline);
            Assert.Equal([second], containers.Containers.Select(c => c.Id));
        }),
        new("lifecycle/stop-pod-twice", async ctx =>
        {
            var pod = await ctx.RunPodAsync();
            var id = await ctx.StartContainerAsync(ctx.NewContainer(), pod);
            await StopPodAsync(ctx, pod.Id);
            await StopPodAsync(ctx, pod.Id);
            Assert.Equal(PodSandboxState.SandboxNotready, (await ctx.Cri.Runtime.PodSandboxStatusAsync(new PodSandboxStatusRequest { PodSandboxId = pod.Id }, deadline: Deadline)).Status.State);
            Assert.Equal(ContainerState.ContainerExited, (await StatusAsync(ctx, id)).State);
        }),
        new("lifecycle/remove-pod-twice", ctx => WithRemovedPodAsync(ctx, async pod =>
        {
            await StopPodAsync(ctx, pod.Id);
            await RemovePodAsync(ctx, pod.Id);
            await RemovePodAsync(ctx, pod.Id);
            // A stop after the remove finds nothing to stop: kubelet takes OK and NotFound alike.
            var stop = await CodeOfAsync(() => StopPodAsync(ctx, pod.Id));
            Assert.True(stop is StatusCode.OK or StatusCode.NotFound, $"StopPodSandbox after RemovePodSandbox: {stop}");
            Assert.Equal(StatusCode.NotFound, await CodeOfAsync(() => ctx.Cri.Runtime.PodSandboxStatusAsync(new PodSandboxStatusRequest { PodSandboxId = pod.Id }, deadline: Deadline).ResponseAsync));
        })),
        new("lifecycle/remove-pod-with-running-containers", ctx => WithRemovedPodAsync(ctx, async pod =>
        {
            // Without a StopPodSandbox first: the remove stops what runs, and nothing of the pod stays on the node.
            var first = await ctx.StartContainerAsync(ctx.NewContainer(), pod);
            var second = await ctx.StartContainerAsync(ctx.NewContainer(), pod);
            await RemovePodAsync(ctx, pod.Id);
            var pods = await ctx.Cri.Runtime.ListPodSandboxAsync(new ListPodSandboxRequest(), deadline: Deadline);
            Assert.DoesNotContain(pod.Id, pods.Items.Select(p => p.Id));
            var containers = await ctx.Cri.Runtime.ListContainersAsync(new ListContainersRequest(), deadline: Deadline);
            Assert.Empty(containers.Containers.Select(c => c.Id).Intersect([first, second]));
            Assert.True(await HostResources.EventuallyAsync(() => Leftovers(pod.Id, first, second).Count == 0, TimeSpan.FromSeconds(60)),
                "left on the host: " + string.Join("; ", Leftovers(pod.Id, first, second)));
        })),
        new("lifecycle/unknown-ids-not-found", async ctx =>
        {
            var pod = await ctx.SharedPodAsync();
            var unknown = new string('0', 64);
            var calls = new (string What, Func<Task> Call)[]
            {
                ("ContainerStatus", () => ctx.Cri.Runtime.ContainerStatusAsync(new ContainerStatusRequest { ContainerId = unknown }, deadline: Deadline).ResponseAsync),
                ("StartContainer", () => ctx.Cri.Runtime.StartContainerAsync(new StartContainerRequest { ContainerId = unknown }, deadline: Deadline).ResponseAsync),
                ("ExecSync", () => ctx.ExecAsync(unknown, "true")),
                ("ContainerStats", () => ctx.Cri.Runtime.ContainerStatsAsync(new ContainerStatsRequest { ContainerId = unknown }, deadline: Deadline).ResponseAsync),
                ("PodSandboxStatus", () => ctx.Cri.Runtime.PodSandboxStatusAsync(new PodSandboxStatusRequest { PodSandboxId = unknown }, deadline: Deadline).ResponseAsync),
                ("CreateContainer in an unknown pod", () => ctx.Cri.Runtime.CreateContainerAsync(
                    new CreateContainerRequest { PodSandboxId = unknown, Config = ctx.NewContainer(), SandboxConfig = pod.Config }, deadline: Deadline).ResponseAsync),
            };
            var wrong = new List<string>();
            foreach (var (what, call) in calls)
            {
                var code = await CodeOfAsync(call);
                if (code != StatusCode.NotFound)
                {
                    wrong.Add($"{what}: {code}");
                }
            }

            // Stopping and removing are idempotent: what is not there is already stopped (containerd 2.x says OK, 1.6 NotFound).
            foreach (var (what, call) in new (string, Func<Task>)[]
            {
                ("StopContainer", () => ctx.Cri.Runtime.StopContainerAsync(new StopContainerRequest { ContainerId = unknown }, deadline: Deadline).ResponseAsync),
                ("RemoveContainer", () => ctx.Cri.Runtime.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = unknown }, deadline: Deadline).ResponseAsync),
            })
            {
                var code = await CodeOfAsync(call);
                if (code is not (StatusCode.OK or StatusCode.NotFound))
                {
                    wrong.Add($"{what}: {code}");
                }
            }

            Assert.True(wrong.Count == 0, "not NotFound: " + string.Join(", ", wrong));
        }),
    ];

    private static DateTime Deadline => DateTime.UtcNow + CallTimeout;

    private static async Task<ContainerStatus> StatusAsync(CheckContext ctx, string id) =>
        (await ctx.Cri.Runtime.ContainerStatusAsync(new ContainerStatusRequest { ContainerId = id }, deadline: Deadline)).Status;

    /// <summary>The container kubelet creates when <paramref name="previous"/> exited: same name, next attempt, its own command.</summary>
    private static ContainerConfig NextAttempt(ContainerConfig next, ContainerConfig previous)
    {
        next.Metadata = new ContainerMetadata { Name = previous.Metadata.Name, Attempt = previous.Metadata.Attempt + 1 };
        next.LogPath = previous.LogPath.Replace(".log", $".{next.Metadata.Attempt}.log", StringComparison.Ordinal);
        return next;
    }

    /// <summary>Runs <paramref name="body"/> on a pod of its own that it removes itself; one it left is removed after it.</summary>
    private static async Task WithRemovedPodAsync(CheckContext ctx, Func<CriPod, Task> body)
    {
        var pod = await CriPod.RunAsync(ctx.Cri, $"{ctx.Handler}-{Guid.NewGuid():N}"[..20], ctx.Handler);
        try
        {
            await body(pod);
        }
        finally
        {
            try
            {
                await pod.DisposeAsync();
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.NotFound)
            {
                // The body removed it, as it should.
            }
        }
    }

    private static Task StopPodAsync(CheckContext ctx, string podId) =>
        ctx.Cri.Runtime.StopPodSandboxAsync(new StopPodSandboxRequest { PodSandboxId = podId }, deadline: Deadline).ResponseAsync;

    private static Task RemovePodAsync(CheckContext ctx, string podId) =>
        ctx.Cri.Runtime.RemovePodSandboxAsync(new RemovePodSandboxRequest { PodSandboxId = podId }, deadline: Deadline).ResponseAsync;

    private static async Task<StatusCode> CodeOfAsync(Func<Task> call)
    {
        try
        {
            await call();
            return StatusCode.OK;
        }
        catch (RpcException e)
        {
            return e.StatusCode;
        }
    }

    /// <summary>Processes and mounts on the host that still name the pod or one of its containers (shims, VMMs, rootfs, shm).</summary>
    private static IReadOnlyList<string> Leftovers(params string[] ids) =>
        ids.SelectMany(id => HostResources.ProcessesMentioning(id).Concat(HostResources.MountsUnder("/").Where(m => m.Contains(id, StringComparison.Ordinal)))).ToList();
}

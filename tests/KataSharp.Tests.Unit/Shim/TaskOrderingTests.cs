using Grpc.Core;
using KataSharp.Protocol.Containerd.Events;
using KataSharp.Protocol.Errors;
using KataSharp.Shim.Events;
using KataSharp.Shim.TaskService;
using Microsoft.Extensions.Time.Testing;
using Moq;

namespace KataSharp.Tests.Unit.Shim;

/// <summary>The order of task events and the process transitions containerd relies on, over a faked sandbox.</summary>
public sealed class TaskOrderingTests
{
    [Fact]
    public async Task ALifeIsCreateStartExitDelete()
    {
        await using var pod = new FakeSandbox();
        await pod.CreateAsync("c1");
        await pod.StartAsync("c1");
        pod.Exit("c1", "", 3);
        await pod.Events.WaitForAsync(Topics.TaskExit);
        var wait = await pod.WaitAsync("c1");
        var deleted = await pod.DeleteAsync("c1");

        Assert.Equal([Topics.TaskCreate, Topics.TaskStart, Topics.TaskExit, Topics.TaskDelete], pod.Events.Topics);
        Assert.Equal(3u, wait.ExitStatus);
        Assert.Equal(3u, deleted.ExitStatus);
        var exit = (TaskExit)pod.Events.Published[2].Event;
        Assert.Equal(("c1", "c1", FakeSandbox.VmPid, 3u), (exit.ContainerId, exit.Id, exit.Pid, exit.ExitStatus));
    }

    [Fact]
    public async Task AnOomKillIsPublishedBeforeTheExitItCaused()
    {
        await using var pod = new FakeSandbox();
        await pod.CreateAsync("c1");
        await pod.StartAsync("c1");
        pod.Exit("c1", "", 137, oomKilled: true);
        await pod.Events.WaitForAsync(Topics.TaskExit);

        Assert.Equal([Topics.TaskCreate, Topics.TaskStart, Topics.TaskOom, Topics.TaskExit], pod.Events.Topics);
    }

    [Fact]
    public async Task DeletingATaskThatNeverStartedPublishesItsExitBeforeItsDelete()
    {
        // runc's shim deletes a created task by killing its runc init, whose reaped exit it publishes:
        // containerd (and CRI's cleanup) waits for that TaskExit, exactly as after Kill.
        await using var pod = new FakeSandbox();
        await pod.CreateAsync("c1");
        var waiting = pod.WaitAsync("c1");
        var deleted = await pod.DeleteAsync("c1");

        Assert.Equal([Topics.TaskCreate, Topics.TaskExit, Topics.TaskDelete], pod.Events.Topics);
        Assert.Equal(137u, ((TaskExit)pod.Events.Published[1].Event).ExitStatus);
        Assert.Equal(137u, deleted.ExitStatus);
        Assert.Equal(137u, (await waiting.WaitAsync(TimeSpan.FromSeconds(30))).ExitStatus);
    }

    [Fact]
    public async Task KillingATaskThatNeverStartedExitsItOnce()
    {
        await using var pod = new FakeSandbox();
        await pod.CreateAsync("c1");
        await pod.KillAsync("c1");
        var again = await Assert.ThrowsAsync<KataSharpException>(() => pod.KillAsync("c1"));
        await pod.DeleteAsync("c1");

        Assert.Equal(StatusCode.NotFound, again.StatusCode);
        Assert.Equal([Topics.TaskCreate, Topics.TaskExit, Topics.TaskDelete], pod.Events.Topics);
    }

    [Fact]
    public async Task AStoppedTaskCannotStartAndARunningOneCannotBeDeleted()
    {
        await using var pod = new FakeSandbox();
        await pod.CreateAsync("c1");
        await pod.StartAsync("c1");
        var twice = await Assert.ThrowsAsync<KataSharpException>(() => pod.StartAsync("c1"));
        var running = await Assert.ThrowsAsync<KataSharpException>(() => pod.DeleteAsync("c1"));
        pod.Exit("c1", "", 0);
        await pod.Events.WaitForAsync(Topics.TaskExit);
        var afterExit = await Assert.ThrowsAsync<KataSharpException>(() => pod.StartAsync("c1"));

        Assert.Equal(ErrorKind.FailedPrecondition, twice.Kind);
        Assert.Equal(ErrorKind.FailedPrecondition, running.Kind);
        Assert.Equal(ErrorKind.FailedPrecondition, afterExit.Kind);
        Assert.Equal(1, pod.Events.Topics.Count(t => t == Topics.TaskStart));
    }

    [Fact]
    public async Task AnExecIsAddedStartedAndExitsUnderItsOwnId()
    {
        await using var pod = new FakeSandbox();
        await pod.CreateAsync("c1");
        await pod.StartAsync("c1");
        await pod.ExecAsync("c1", "e1");
        await pod.StartAsync("c1", "e1");
        pod.Exit("c1", "e1", 5);
        await pod.Events.WaitForAsync(Topics.TaskExit);
        var deleted = await pod.DeleteAsync("c1", "e1");

        Assert.Equal([Topics.TaskCreate, Topics.TaskStart, Topics.TaskExecAdded, Topics.TaskExecStarted, Topics.TaskExit], pod.Events.Topics);
        Assert.Equal("e1", ((TaskExit)pod.Events.Published[4].Event).Id);
        Assert.Equal(5u, deleted.ExitStatus);
        Assert.Equal(StatusCode.NotFound, (await Assert.ThrowsAsync<KataSharpException>(() => pod.WaitAsync("c1", "e1"))).StatusCode);
    }

    [Fact]
    public async Task AnExecNeedsARunningContainer()
    {
        await using var pod = new FakeSandbox();
        await pod.CreateAsync("c1");

        var e = await Assert.ThrowsAsync<KataSharpException>(() => pod.ExecAsync("c1", "e1"));
        Assert.Equal(ErrorKind.FailedPrecondition, e.Kind);
    }

    [Fact]
    public async Task AVmThatDiesExitsEveryProcessOnceWithTheExecsBeforeInit()
    {
        await using var pod = new FakeSandbox();
        await pod.CreateAsync("c1");
        await pod.StartAsync("c1");
        await pod.ExecAsync("c1", "e1");
        await pod.StartAsync("c1", "e1");
        pod.VmExited.SetResult("killed");
        await pod.Events.WaitForAsync(Topics.TaskExit, e => ((TaskExit)e).Id == "c1");
        pod.Exit("c1", "", 0);

        var exits = pod.Events.Published.Where(p => p.Topic == Topics.TaskExit).Select(p => (TaskExit)p.Event).ToList();
        Assert.Equal(["e1", "c1"], exits.Select(e => e.Id));
        Assert.All(exits, e => Assert.Equal(255u, e.ExitStatus));
        Assert.Equal(255u, (await pod.WaitAsync("c1")).ExitStatus);
    }

    [Fact]
    public async Task AWaitThatFailsWhileTheVmRunsReportsTheProcessExited()
    {
        // Nothing else would ever report it: containerd would see the exec run for good, and ExecSync never return.
        await using var pod = new FakeSandbox();
        pod.Service.Pod.LostWaitGrace = TimeSpan.Zero;
        await pod.CreateAsync("c1");
        await pod.StartAsync("c1");
        await pod.ExecAsync("c1", "e1");
        await pod.StartAsync("c1", "e1");
        pod.FailWait("c1", "e1", Errdefs.NotFound("process e1 of c1: not found"));

        var wait = await pod.WaitAsync("c1", "e1").WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(255u, wait.ExitStatus);
        var exit = (TaskExit)pod.Events.Published.Single(p => p.Topic == Topics.TaskExit).Event;
        Assert.Equal(("e1", 255u), (exit.Id, exit.ExitStatus));
        pod.Exit("c1", "", 0);
        Assert.Equal(0u, (await pod.WaitAsync("c1")).ExitStatus);
    }

    [Fact]
    public async Task AWaitThatFailsAsTheVmDiesLeavesTheExitsToTheVmsOrder()
    {
        // The agent's connection breaks before the VM's exit is seen; CRI reads the sandbox's exit as the pod's end.
        await using var pod = new FakeSandbox();
        pod.Service.Pod.LostWaitGrace = TimeSpan.FromMinutes(10);
        await pod.CreateAsync("c1");
        await pod.StartAsync("c1");
        await pod.ExecAsync("c1", "e1");
        await pod.StartAsync("c1", "e1");
        pod.FailWait("c1", "", Errdefs.Unavailable("the agent connection closed"));
        pod.FailWait("c1", "e1", Errdefs.Unavailable("the agent connection closed"));
        pod.VmExited.SetResult("killed");
        await pod.Events.WaitForAsync(Topics.TaskExit, e => ((TaskExit)e).Id == "c1");

        var exits = pod.Events.Published.Where(p => p.Topic == Topics.TaskExit).Select(p => (TaskExit)p.Event).ToList();
        Assert.Equal(["e1", "c1"], exits.Select(e => e.Id));
    }

    [Fact]
    public async Task UnknownContainersInOomEventsAreDroppedAndCounted()
    {
        await using var pod = new FakeSandbox();
        await pod.CreateAsync("c1");
        await pod.Oom.Writer.WriteAsync("nobody");
        await pod.Oom.Writer.WriteAsync(new string('x', 1 << 20));
        await pod.Oom.Writer.WriteAsync("c1");
        await pod.Events.WaitForAsync(Topics.TaskOom);

        Assert.Equal(2, pod.Service.Pod.DroppedOomEvents);
        Assert.Equal("c1", ((TaskOOM)pod.Events.Published.Single(p => p.Topic == Topics.TaskOom).Event).ContainerId);
    }

    [Fact]
    public async Task DeletingTheSandboxContainerStopsTheVm()
    {
        await using var pod = new FakeSandbox();
        await pod.CreateAsync("c1");
        await pod.DeleteAsync("c1");

        pod.Vm.Verify(v => v.DisposeAsync(), Times.Once);
        Assert.True(pod.Service.Pod.IsEmpty);
        Assert.Equal(0u, pod.Service.Pod.Pid);
    }

    [Fact]
    public async Task AFailedCreateLeavesNothingBehind()
    {
        await using var pod = new FakeSandbox();
        pod.Vm.Setup(v => v.CreateContainerAsync(It.IsAny<KataSharp.Runtime.Sandbox.ContainerOptions>(), It.IsAny<CancellationToken>()))
            .ThrowsAsync(Errdefs.FailedPrecondition("no such executable"));

        var e = await Assert.ThrowsAsync<KataSharpException>(() => pod.CreateAsync("c1"));

        Assert.Equal(ErrorKind.FailedPrecondition, e.Kind);
        Assert.True(pod.Service.Pod.IsEmpty);
        pod.Vm.Verify(v => v.DisposeAsync(), Times.Once);
        Assert.Empty(pod.Events.Topics);
    }

    [Fact]
    public async Task AShutdownDuringACreateThatThenFailsEndsTheShim()
    {
        // containerd gives up on a Create (its deadline), asks for Delete and Shutdown while the shim is still
        // booting the VM, and never asks again: the shim must go once that Create has failed.
        await using var pod = new FakeSandbox();
        var booting = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        pod.Factory.Setup(f => f.CreateAsync(It.IsAny<string>(), It.IsAny<string>(), It.IsAny<KataSharp.Shim.Lifecycle.BundleSpec>(), It.IsAny<string?>(), It.IsAny<CancellationToken>()))
            .Returns(async () =>
            {
                booting.SetResult();
                await release.Task;
                throw Errdefs.Unavailable("the agent did not answer");
            });

        var create = pod.CreateAsync("c1");
        await booting.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await pod.Service.Shutdown(new KataSharp.Protocol.Containerd.Task.V2.ShutdownRequest { Id = "c1" }, pod.Context);
        Assert.False(pod.Service.ShutdownRequested.IsCompleted, "the shim went while a Create was under way");

        release.SetResult();
        await Assert.ThrowsAsync<KataSharpException>(() => create);
        await pod.Service.ShutdownRequested.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task AShutdownIsIgnoredWhileAContainerRemains()
    {
        await using var pod = new FakeSandbox();
        await pod.CreateAsync("c1");
        await pod.Service.Shutdown(new KataSharp.Protocol.Containerd.Task.V2.ShutdownRequest { Id = "c1" }, pod.Context);
        Assert.False(pod.Service.ShutdownRequested.IsCompleted);

        await pod.DeleteAsync("c1");
        await pod.Service.Shutdown(new KataSharp.Protocol.Containerd.Task.V2.ShutdownRequest { Id = "c1" }, pod.Context);
        Assert.True(pod.Service.ShutdownRequested.IsCompleted);
    }

    [Fact]
    public async Task AnAppContainerIsRemovedInTheGuest_WhileTheVmsOwnerIsLeftToTheVmsEnd()
    {
        // DestroySandbox ends every container with the VM; a RemoveContainer of the owner before it would only
        // spend containerd's deadline for the Delete on a crun delete in a guest about to go.
        await using var pod = new FakeSandbox();
        await pod.CreateAsync("pod");
        await pod.CreateAsync("app", FakeSandbox.InPod());

        await pod.DeleteAsync("app");
        pod.Guest("app").Verify(c => c.RemoveAsync(It.IsAny<CancellationToken>()), Times.Once);
        pod.Vm.Verify(v => v.DisposeAsync(), Times.Never);

        await pod.DeleteAsync("pod");
        pod.Guest("pod").Verify(c => c.RemoveAsync(It.IsAny<CancellationToken>()), Times.Never);
        pod.Vm.Verify(v => v.DisposeAsync(), Times.Once);
    }

    [Fact]
    public async Task AShimLeftEmptyWithoutAShutdown_GoesByItselfAfterTheGrace()
    {
        // containerd's Delete of the last container outlived its deadline, so it never sends Shutdown.
        var time = new FakeTimeProvider();
        await using var pod = new FakeSandbox(time);
        await pod.CreateAsync("c1");
        await pod.DeleteAsync("c1");

        time.Advance(TaskService.EmptyPodGrace - TimeSpan.FromSeconds(1));
        Assert.False(pod.Service.ShutdownRequested.IsCompleted, "the shim went before the grace was over");

        time.Advance(TimeSpan.FromSeconds(1));
        await pod.Service.ShutdownRequested.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task AShimThatGetsANewContainerWithinTheGrace_Stays()
    {
        var time = new FakeTimeProvider();
        await using var pod = new FakeSandbox(time);
        await pod.CreateAsync("c1");
        await pod.DeleteAsync("c1");
        await pod.CreateAsync("c2");

        time.Advance(TaskService.EmptyPodGrace * 2);
        await Assert.IsType<Task>(pod.Service.EmptyPodCheck, exactMatch: false).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.False(pod.Service.ShutdownRequested.IsCompleted, "the shim went while a container remained");
    }
}

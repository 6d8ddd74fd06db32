using KataSharp.Shim.TaskService;
using Microsoft.Extensions.Logging.Abstractions;

namespace KataSharp.Tests.Unit.Shim;

public sealed class AgentWatchdogTests
{
    private static readonly AgentHealthPolicy Fast = new(TimeSpan.FromMilliseconds(10), TimeSpan.FromSeconds(5), 3);
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task ProbesFailingInARow_MakeTheAgentDead_WithTheLastError()
    {
        var probes = 0;
        await using var watchdog = new AgentWatchdog((_, _) =>
        {
            Interlocked.Increment(ref probes);
            return Task.FromException<bool>(new TimeoutException("deadline exceeded"));
        }, new TaskCompletionSource().Task, Fast, NullLogger.Instance);

        var reason = await watchdog.Dead.WaitAsync(Wait);
        Assert.Contains("3 health checks", reason);
        Assert.Contains("deadline exceeded", reason);
        Assert.Equal(3, Volatile.Read(ref probes));
    }

    [Fact]
    public async Task AnAnswerBetweenFailures_StartsTheCountAgain()
    {
        // fail, fail, answer, fail, fail, answer, ...: never three in a row.
        var probes = 0;
        var answered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var watchdog = new AgentWatchdog((_, _) =>
        {
            var n = Interlocked.Increment(ref probes);
            if (n >= 30)
            {
                answered.TrySetResult();
            }

            return n % 3 == 0 ? Task.FromResult(true) : Task.FromException<bool>(new TimeoutException("slow"));
        }, new TaskCompletionSource().Task, Fast, NullLogger.Instance);

        await answered.Task.WaitAsync(Wait);
        Assert.False(watchdog.Dead.IsCompleted);
    }

    [Fact]
    public async Task ANotServingAnswer_CountsAsAFailure()
    {
        await using var watchdog = new AgentWatchdog((_, _) => Task.FromResult(false), new TaskCompletionSource().Task, Fast, NullLogger.Instance);
        Assert.Contains("not serving", await watchdog.Dead.WaitAsync(Wait));
    }

    [Fact]
    public async Task ADroppedConnection_MakesTheAgentDead_WithoutWaitingForProbes()
    {
        var lost = new TaskCompletionSource();
        var slow = new AgentHealthPolicy(TimeSpan.FromHours(1), TimeSpan.FromSeconds(5), 3);
        await using var watchdog = new AgentWatchdog((_, _) => Task.FromResult(true), lost.Task, slow, NullLogger.Instance);
        lost.SetResult();
        Assert.Contains("connection", await watchdog.Dead.WaitAsync(Wait));
    }

    [Fact]
    public async Task AHungProbe_IsBoundedByItsDeadline()
    {
        var policy = new AgentHealthPolicy(TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(50), 2);
        await using var watchdog = new AgentWatchdog((_, _) => new TaskCompletionSource<bool>().Task, new TaskCompletionSource().Task, policy, NullLogger.Instance);
        Assert.Contains("2 health checks", await watchdog.Dead.WaitAsync(Wait));
    }

    [Fact]
    public async Task AfterDispose_ADroppedConnectionIsNoDeath()
    {
        var lost = new TaskCompletionSource();
        var watchdog = new AgentWatchdog((_, ct) => Task.Delay(Timeout.Infinite, ct).ContinueWith(_ => true, TaskScheduler.Default), lost.Task, Fast, NullLogger.Instance);
        await watchdog.DisposeAsync();
        lost.SetResult();
        Assert.False(watchdog.Dead.IsCompleted);
    }
}

using KataSharp.Agent.Processes;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace KataSharp.Tests.Unit.Agent;

/// <summary>The dispatch table only; the reaper thread is never started here (it would reap the test host's children).</summary>
public sealed class ChildReaperTests
{
    private static readonly DateTimeOffset At = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task ExitBeforeAdoptionIsKeptForTheAdopter()
    {
        using var reaper = new ChildReaper(NullLogger.Instance, _ => false);

        reaper.Dispatch(100, 3 << 8, At);
        var exit = await reaper.Adopt(100);

        Assert.Equal((100, 3, At), (exit.Pid, exit.ExitStatus, exit.ExitedAt));
        Assert.Equal(0, reaper.UnclaimedCount);
    }

    [Fact]
    public async Task ExitAfterAdoptionCompletesTheWaiter()
    {
        using var reaper = new ChildReaper(NullLogger.Instance, _ => true);

        var exit = reaper.Adopt(200);
        Assert.False(exit.IsCompleted);
        reaper.Dispatch(200, 9, At);

        Assert.Equal(137, (await exit.WaitAsync(TimeSpan.FromSeconds(5))).ExitStatus);
    }

    [Fact]
    public void StaleExitOfAReusedPidIsNotHandedToTheNewProcess()
    {
        // The pid exists again, so the recorded exit belongs to an earlier process.
        using var reaper = new ChildReaper(NullLogger.Instance, _ => true);

        reaper.Dispatch(300, 0, At);
        var exit = reaper.Adopt(300);

        Assert.False(exit.IsCompleted);
    }

    [Fact]
    public void AdoptingTwiceSharesOneWaiter()
    {
        using var reaper = new ChildReaper(NullLogger.Instance, _ => true);

        Assert.Same(reaper.Adopt(400), reaper.Adopt(400));
    }
}

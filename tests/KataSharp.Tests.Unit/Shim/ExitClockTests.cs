using KataSharp.Shim.TaskService;

namespace KataSharp.Tests.Unit.Shim;

public sealed class ExitClockTests
{
    private static readonly DateTimeOffset Started = new(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Now = Started.AddSeconds(10);

    [Fact]
    public void AnExitBetweenStartAndNowIsKept() =>
        Assert.Equal(Started.AddSeconds(3), ExitClock.Clamp(Started.AddSeconds(3), Started, Now));

    [Fact]
    public void AGuestClockBehindTheHostGivesTheTimeTheHostHeardOfTheExit() =>
        Assert.Equal(Now, ExitClock.Clamp(Started.AddSeconds(-2), Started, Now));

    [Fact]
    public void AGuestClockAheadOfTheHostNeverPutsTheExitInTheFuture() =>
        Assert.Equal(Now, ExitClock.Clamp(Now.AddHours(5), Started, Now));

    [Fact]
    public void AHostClockThatSteppedBackGivesTheHostsNow() =>
        Assert.Equal(Started.AddSeconds(-1), ExitClock.Clamp(Started.AddSeconds(4), Started, Started.AddSeconds(-1)));
}

using KataSharp.Agent.Stats;
using Xunit;

namespace KataSharp.Tests.Unit.Agent;

public sealed class OomVerdictTests
{
    [Theory]
    [InlineData(true, true)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void AnOomKillInTheCgroupCountsForTheInitWhoeverWasKilledAndForAnExecThatWasTheVictim(bool isInit, bool killedBySigkill) =>
        Assert.True(OomVerdict.Killed(isInit, killedBySigkill, oomKillsAtStart: 2, oomKillsNow: 3));

    [Fact]
    public void AnExecThatExitedOnItsOwnIsNoOomEvenWhenAnotherProcessWasKilled() =>
        Assert.False(OomVerdict.Killed(isInit: false, killedBySigkill: false, oomKillsAtStart: 0, oomKillsNow: 1));

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void APlainSigkillWithoutANewOomKillIsNoOom(bool isInit) =>
        Assert.False(OomVerdict.Killed(isInit, killedBySigkill: true, oomKillsAtStart: 4, oomKillsNow: 4));
}

using KataSharp.Shim.Lifecycle;

namespace KataSharp.Tests.Unit.Shim;

public sealed class IdleHeapTrimmerTests
{
    private long _allocated;
    private int _collections;

    private IdleHeapTrimmer NewTrimmer() => new(() => _allocated, () => _collections++);

    [Fact]
    public void CollectsOnceInTheFirstQuietPeriodAfterWork()
    {
        var trimmer = NewTrimmer();
        _allocated += 2 * IdleHeapTrimmer.WorkBytes;
        Assert.False(trimmer.Tick()); // the period with the work in it
        Assert.True(trimmer.Tick()); // the quiet period after it
        Assert.False(trimmer.Tick()); // nothing new to give back
        Assert.Equal(1, _collections);
        Assert.Equal(1, trimmer.Trims);
    }

    [Fact]
    public void DoesNotCollectWhileTheWorkGoesOn()
    {
        var trimmer = NewTrimmer();
        for (var i = 0; i < 10; i++)
        {
            _allocated += IdleHeapTrimmer.WorkBytes;
            Assert.False(trimmer.Tick());
        }

        Assert.True(trimmer.Tick());
        Assert.Equal(1, _collections);
    }

    [Fact]
    public void ATrickleOfSmallAllocationsStillCountsAsQuiet()
    {
        var trimmer = NewTrimmer();
        _allocated += IdleHeapTrimmer.WorkBytes;
        trimmer.Tick();
        _allocated += IdleHeapTrimmer.QuietBytes - 1;
        Assert.True(trimmer.Tick());
    }

    [Fact]
    public void AnIdleProcessThatDidLittleIsNeverCollected()
    {
        var trimmer = NewTrimmer();
        for (var i = 0; i < 10; i++)
        {
            _allocated += IdleHeapTrimmer.QuietBytes / 2;
            Assert.False(trimmer.Tick());
        }

        Assert.Equal(0, _collections);
    }

    [Fact]
    public void WhatTheCollectionItselfAllocatesIsNotNewWork()
    {
        var trimmer = new IdleHeapTrimmer(() => _allocated, () => _allocated += IdleHeapTrimmer.WorkBytes);
        _allocated += IdleHeapTrimmer.WorkBytes;
        trimmer.Tick();
        Assert.True(trimmer.Tick());
        Assert.False(trimmer.Tick());
        Assert.False(trimmer.Tick());
        Assert.Equal(1, trimmer.Trims);
    }
}

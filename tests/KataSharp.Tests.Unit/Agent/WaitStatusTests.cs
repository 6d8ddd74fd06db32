using KataSharp.Native.Processes;
using KataSharp.Agent.Processes;
using Xunit;

namespace KataSharp.Tests.Unit.Agent;

public sealed class WaitStatusTests
{
    [Theory]
    [InlineData(0x0000, 0)]
    [InlineData(0x0300, 3)]
    [InlineData(0xff00, 255)]
    [InlineData(9, 137)] // SIGKILL
    [InlineData(15, 143)] // SIGTERM
    [InlineData(0x8b, 139)] // SIGSEGV with a core dump
    public void ExitStatusIsTheCodeOr128PlusTheSignal(int raw, int expected)
    {
        Assert.Equal(expected, WaitStatus.ToExitStatus(raw));
    }

    [Fact]
    public void SignalledAndExitedAreDistinguished()
    {
        Assert.True(WaitStatus.IsExited(0x0100));
        Assert.False(WaitStatus.IsSignaled(0x0100));
        Assert.True(WaitStatus.IsSignaled(9));
        Assert.Equal(9, WaitStatus.TermSignal(9));
        Assert.True(new ProcessExit(1, 9, DateTimeOffset.UnixEpoch).KilledBySignal(9));
        Assert.False(new ProcessExit(1, 9 << 8, DateTimeOffset.UnixEpoch).KilledBySignal(9));
    }
}

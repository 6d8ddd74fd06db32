using KataSharp.Agent.Containers;
using Xunit;

namespace KataSharp.Tests.Unit.Agent;

public sealed class ContainerStateTests
{
    [Theory]
    [InlineData("Running")]
    [InlineData("Paused")]
    [InlineData("Created")]
    public void A_stopped_container_stays_stopped_when_a_late_pause_resume_or_start_finishes(string lateState)
    {
        var late = Enum.Parse<ContainerState>(lateState);
        var container = new Container("c1", "/bundle", isSandbox: false);
        Assert.True(container.MoveTo(ContainerState.Created));
        Assert.True(container.MoveTo(ContainerState.Running));

        Assert.True(container.MoveTo(ContainerState.Stopped));   // the reaper saw the init exit
        Assert.False(container.MoveTo(late));

        Assert.Equal(ContainerState.Stopped, container.State);
    }

    [Fact]
    public async Task An_exit_racing_a_resume_always_ends_stopped()
    {
        for (var round = 0; round < 200; round++)
        {
            var container = new Container("c1", "/bundle", isSandbox: false);
            container.MoveTo(ContainerState.Paused);
            using var start = new Barrier(2);
            var resume = Task.Run(() => { start.SignalAndWait(); container.MoveTo(ContainerState.Running); });
            var exit = Task.Run(() => { start.SignalAndWait(); container.MoveTo(ContainerState.Stopped); });
            await Task.WhenAll(resume, exit);

            Assert.Equal(ContainerState.Stopped, container.State);
        }
    }
}

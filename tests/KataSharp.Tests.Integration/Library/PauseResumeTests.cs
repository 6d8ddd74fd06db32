using System.Globalization;
using Grpc.Core;
using KataSharp.Protocol.Agent.V1;
using KataSharp.Tests.Integration.Infrastructure;

namespace KataSharp.Tests.Integration.Library;

/// <summary>Pausing freezes every process of a container (no progress, no CPU time) until it is resumed.</summary>
[Collection(SharedSandboxCollection.Name)]
public sealed class PauseResumeTests(SharedSandboxFixture fixture)
{
    /// <summary>The loop renames each new value into place, so the host never reads a half-written counter.</summary>
    private const string CounterLoop = "i=0; while :; do i=$((i+1)); echo $i > /tmp/counter.new; mv /tmp/counter.new /tmp/counter; done";

    [Fact]
    public async Task A_paused_counter_loop_stops_and_a_resumed_one_goes_on()
    {
        await using var container = await fixture.StartAsync("pause", ["sh", "-c", CounterLoop]);
        // The rootfs is a host directory shared into the guest: the host reads the counter without entering the container.
        var counterFile = Path.Combine(container.Rootfs, "tmp", "counter");
        var client = fixture.Sandbox.Agent.Client;
        var request = new ContainerRequest { ContainerId = container.Id };

        var running = await WaitForCounterAsync(counterFile, above: 2);

        await client.PauseContainerAsync(request, deadline: fixture.Sandbox.Agent.Deadline);
        // Let anything already on its way land, then watch a frozen container for a while.
        await Task.Delay(TimeSpan.FromSeconds(1));
        var pausedAt = ReadCounter(counterFile);
        var cpuAt = (await client.StatsContainerAsync(request, deadline: fixture.Sandbox.Agent.Deadline)).Cpu.UsageUsec;
        await Task.Delay(TimeSpan.FromSeconds(3));
        var pausedLater = ReadCounter(counterFile);
        var cpuLater = (await client.StatsContainerAsync(request, deadline: fixture.Sandbox.Agent.Deadline)).Cpu.UsageUsec;

        Assert.True(pausedAt >= running, $"the counter went backwards: {running} then {pausedAt}");
        Assert.Equal(pausedAt, pausedLater);
        Assert.Equal(cpuAt, cpuLater);

        // Pausing twice is a state error, not a hang or a crash.
        var twice = await Assert.ThrowsAsync<RpcException>(async () => await client.PauseContainerAsync(request, deadline: fixture.Sandbox.Agent.Deadline));
        Assert.Equal(StatusCode.FailedPrecondition, twice.StatusCode);

        await client.ResumeContainerAsync(request, deadline: fixture.Sandbox.Agent.Deadline);
        var resumed = await WaitForCounterAsync(counterFile, above: pausedLater);
        Assert.True(resumed > pausedLater);

        var resumeTwice = await Assert.ThrowsAsync<RpcException>(async () => await client.ResumeContainerAsync(request, deadline: fixture.Sandbox.Agent.Deadline));
        Assert.Equal(StatusCode.FailedPrecondition, resumeTwice.StatusCode);
    }

    private static long ReadCounter(string file) =>
        File.Exists(file) && long.TryParse(File.ReadAllText(file).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value : 0;

    private static async Task<long> WaitForCounterAsync(string file, long above)
    {
        using var timeout = new CancellationTokenSource(TestEnvironment.OperationTimeout);
        while (true)
        {
            var value = ReadCounter(file);
            if (value > above)
            {
                return value;
            }

            if (timeout.IsCancellationRequested)
            {
                throw new TimeoutException($"the counter in {file} did not pass {above} (it is {value})");
            }

            await Task.Delay(100);
        }
    }
}

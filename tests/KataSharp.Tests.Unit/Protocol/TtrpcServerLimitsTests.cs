using Grpc.Core;
using KataSharp.Protocol.Ttrpc;

namespace KataSharp.Tests.Unit.Protocol;

/// <summary>A connection's bound on calls in flight: past it a call is refused at once, and the others go on.</summary>
public sealed class TtrpcServerLimitsTests
{
    private const string Service = "test.Gate";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task PastMaxCalls_ACallIsResourceExhausted_AndOnceOneEndsTheNextIsServed()
    {
        var gate = new Gate();
        await using var harness = await TtrpcTestHarness.StartAsync(gate.Registry(), new TtrpcServerLimits(2, 1 << 20));

        var first = harness.Client.CallAsync(Service, "Wait", new byte[8]);
        var second = harness.Client.CallAsync(Service, "Wait", new byte[8]);
        await gate.EnteredAsync(2);
        var refused = await Assert.ThrowsAsync<RpcException>(() => harness.Client.CallAsync(Service, "Echo", new byte[8]).WaitAsync(Timeout));
        Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);
        Assert.Contains("at most 2 calls", refused.Status.Detail, StringComparison.Ordinal);

        gate.Open();
        await Task.WhenAll(first, second).WaitAsync(Timeout);
        Assert.Equal(3, (await harness.Client.CallAsync(Service, "Echo", new byte[3]).WaitAsync(Timeout)).Length);
    }

    [Fact]
    public async Task PastMaxBytes_ALargeCallIsRefused_WhileASmallOneStillFits()
    {
        var gate = new Gate();
        await using var harness = await TtrpcTestHarness.StartAsync(gate.Registry(), new TtrpcServerLimits(100, 1000));

        // One call alone is always admitted, whatever its size.
        var large = harness.Client.CallAsync(Service, "Wait", new byte[1500]);
        await gate.EnteredAsync(1);
        var refused = await Assert.ThrowsAsync<RpcException>(() => harness.Client.CallAsync(Service, "Echo", new byte[600]).WaitAsync(Timeout));
        Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);

        gate.Open();
        await large.WaitAsync(Timeout);
        var small = harness.Client.CallAsync(Service, "Wait", new byte[600]);
        Assert.Equal(600, (await small.WaitAsync(Timeout)).Length);
    }

    [Fact]
    public async Task AtTheBound_APeerThatHasItsAnswer_CanAlwaysSendItsNextCall()
    {
        // The room was given back only after the answer was written, so the next call could arrive first and be
        // refused (the CLI helper's unit run saw PastMaxCalls fail so once under load).
        var gate = new Gate();
        await using var harness = await TtrpcTestHarness.StartAsync(gate.Registry(), new TtrpcServerLimits(1, 1 << 20));
        gate.Open();
        for (var i = 0; i < 500; i++)
        {
            Assert.Equal(4, (await harness.Client.CallAsync(Service, i % 2 == 0 ? "Echo" : "Wait", new byte[4]).WaitAsync(Timeout)).Length);
        }
    }

    /// <summary>A "Wait" method that holds every call until opened, and an "Echo" that answers at once.</summary>
    private sealed class Gate
    {
        private readonly TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly SemaphoreSlim _entered = new(0);

        public TtrpcServiceRegistry Registry()
        {
            var registry = new TtrpcServiceRegistry();
            registry.Add(Service, "Wait", async (payload, _) =>
            {
                _entered.Release();
                await _open.Task.ConfigureAwait(false);
                return payload;
            });
            registry.Add(Service, "Echo", (payload, _) => Task.FromResult(payload));
            return registry;
        }

        public async Task EnteredAsync(int calls)
        {
            for (var i = 0; i < calls; i++)
            {
                Assert.True(await _entered.WaitAsync(Timeout), "a call never reached its handler");
            }
        }

        public void Open() => _open.TrySetResult();
    }
}

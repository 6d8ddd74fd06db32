using KataSharp.Runtime.Network;
using Microsoft.Extensions.Logging.Abstractions;

namespace KataSharp.Tests.Unit.Network;

public sealed class NetworkUndoTests : IDisposable
{
    private readonly FakeNetns _fake = new();

    public void Dispose() => _fake.Dispose();

    [Fact]
    public async Task Steps_run_last_first_and_what_is_already_gone_counts_as_undone()
    {
        var netns = _fake.Netns("pod");
        UndoStep[] steps =
        [
            new(UndoAction.DeleteNetns, null, "ks-a"),
            new(UndoAction.DeleteLink, null, "ksh0123"),
            new(UndoAction.DeleteIptablesRule, null, "nat", ["POSTROUTING", "-s", "10.213.0.0/30", "-j", "MASQUERADE"]),
            new(UndoAction.DeleteLink, netns, "tap0_ks"),
            new(UndoAction.DeleteIngressQdisc, netns, "eth0"),
        ];
        _fake.Handler = ran => ran.Line switch
        {
            "tc qdisc del dev eth0 ingress" => FakeNetns.Fail("Error: Cannot find specified qdisc on specified device."),
            "ip link del dev tap0_ks" => FakeNetns.Fail("Cannot find device \"tap0_ks\""),
            _ when ran.Line.StartsWith("iptables", StringComparison.Ordinal) => FakeNetns.Fail("iptables: Bad rule (does a matching rule exist in that chain?).", 1),
            "ip netns del ks-a" => FakeNetns.Fail("Cannot remove namespace file \"/run/netns/ks-a\": No such file or directory", 1),
            _ => FakeNetns.Ok(),
        };

        var failed = await NetworkUndo.RunAsync(_fake.Runner, steps, NullLogger.Instance, CancellationToken.None);

        Assert.Empty(failed);
        Assert.Equal([
            "tc qdisc del dev eth0 ingress",
            "ip link del dev tap0_ks",
            "iptables -w 5 -t nat -D POSTROUTING -s 10.213.0.0/30 -j MASQUERADE",
            "ip link del dev ksh0123",
            "ip netns del ks-a"], _fake.Lines);
    }

    [Fact]
    public async Task A_real_failure_is_reported_and_the_remaining_steps_still_run()
    {
        UndoStep[] steps = [new(UndoAction.DeleteNetns, null, "ks-a"), new(UndoAction.DeleteLink, null, "ksh0123")];
        _fake.Handler = ran => ran.Line == "ip link del dev ksh0123" ? FakeNetns.Fail("RTNETLINK answers: Operation not permitted") : FakeNetns.Ok();

        var failed = await NetworkUndo.RunAsync(_fake.Runner, steps, NullLogger.Instance, CancellationToken.None);

        var (step, reason) = Assert.Single(failed);
        Assert.Equal(steps[1], step);
        Assert.Contains("Operation not permitted", reason, StringComparison.Ordinal);
        Assert.Equal(["ip link del dev ksh0123", "ip netns del ks-a"], _fake.Lines);
    }

    [Fact]
    public async Task A_runner_timeout_is_a_failure_not_a_crash()
    {
        UndoStep[] steps = [new(UndoAction.DeleteLink, null, "a"), new(UndoAction.DeleteLink, null, "b")];
        _fake.Handler = ran => ran.Line.EndsWith(" b", StringComparison.Ordinal) ? throw new NetworkException("timed out") : FakeNetns.Ok();

        var failed = await NetworkUndo.RunAsync(_fake.Runner, steps, NullLogger.Instance, CancellationToken.None);

        Assert.Equal("timed out", Assert.Single(failed).Reason);
        Assert.Equal(2, _fake.Ran.Count);
    }

    [Fact]
    public async Task Steps_inside_a_namespace_that_is_gone_are_skipped()
    {
        var gone = Path.Combine(_fake.Directory, "deleted-netns");
        UndoStep[] steps = [new(UndoAction.DeleteLink, gone, "tap0_ks"), new(UndoAction.DeleteIngressQdisc, gone, "eth0")];

        var failed = await NetworkUndo.RunAsync(_fake.Runner, steps, NullLogger.Instance, CancellationToken.None);

        Assert.Empty(failed);
        Assert.Empty(_fake.Ran);
    }

    [Fact]
    public void Steps_map_to_exactly_these_commands()
    {
        Assert.Equal(["ip", "link", "set", "dev", "eth0", "down"], new UndoStep(UndoAction.SetLinkDown, "/x", "eth0").Command);
        Assert.Equal(["tc", "filter", "del", "dev", "eth0", "parent", "ffff:", "pref", "49"], new UndoStep(UndoAction.DeleteIngressFilter, "/x", "eth0", ["49"]).Command);
        Assert.Equal(["ip", "netns", "del", "ks-1"], new UndoStep(UndoAction.DeleteNetns, null, "ks-1").Command);
    }
}

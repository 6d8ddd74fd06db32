using KataSharp.Runtime.Network;
using Microsoft.Extensions.Logging.Abstractions;
using Moq;

namespace KataSharp.Tests.Unit.Network;

public sealed class NatNetworkTests : IDisposable
{
    private readonly FakeNetns _fake = new();
    private readonly Mock<IHostSysctl> _sysctl = new(MockBehavior.Strict);

    public NatNetworkTests()
    {
        _sysctl.Setup(s => s.Read("net.ipv4.ip_forward")).Returns("0");
        _sysctl.Setup(s => s.Write("net.ipv4.ip_forward", "1"));
    }

    public void Dispose() => _fake.Dispose();

    private NatNetworkPlan Plan() => new("job42", SubnetPool.SubnetAt(3), _fake.Directory);

    [Fact]
    public void The_plan_derives_every_name_and_address_from_the_id_and_subnet()
    {
        var plan = Plan();

        Assert.Equal("ks-job42", plan.NetnsName);
        Assert.Equal(Path.Combine(_fake.Directory, "ks-job42"), plan.NetnsPath);
        Assert.Matches("^ksh[0-9a-f]{12}$", plan.HostLinkName);
        Assert.Equal(plan.HostLinkName, new NatNetworkPlan("job42", SubnetPool.SubnetAt(0)).HostLinkName);
        Assert.NotEqual(plan.HostLinkName, new NatNetworkPlan("job43", SubnetPool.SubnetAt(3)).HostLinkName);
        Assert.Equal(("10.213.0.12/30", "10.213.0.13", "10.213.0.14"), (plan.Subnet.ToString(), plan.Gateway.ToString(), plan.GuestAddress.ToString()));
    }

    [Fact]
    public async Task Create_makes_the_netns_veth_addresses_route_and_nat_and_logs_each_undo_first()
    {
        var plan = Plan();
        var undo = new NetworkUndoLog();

        var nat = await new NatNetwork(_fake.Runner, NullLogger.Instance, _sysctl.Object).CreateAsync(plan, undo, CancellationToken.None);

        Assert.True(nat);
        var h = plan.HostLinkName;
        Assert.Equal([
            "ip netns add ks-job42",
            $"ip link add {h} type veth peer name eth0 netns ks-job42",
            $"ip addr add 10.213.0.13/30 dev {h}",
            $"ip link set dev {h} up",
            "ip link set dev lo up",
            "ip addr add 10.213.0.14/30 dev eth0",
            "ip link set dev eth0 up",
            "ip route add default via 10.213.0.13 dev eth0",
            $"iptables -w 5 -t nat -A POSTROUTING -s 10.213.0.12/30 ! -o {h} -m comment --comment katasharp:job42 -j MASQUERADE",
            $"iptables -w 5 -t filter -I FORWARD -i {h} -m comment --comment katasharp:job42 -j ACCEPT",
            $"iptables -w 5 -t filter -I FORWARD -o {h} -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment katasharp:job42 -j ACCEPT"], _fake.Lines);
        Assert.Equal([null, null, null, null, plan.NetnsPath, plan.NetnsPath, plan.NetnsPath, plan.NetnsPath, null, null, null], _fake.Ran.Select(r => r.Netns));
        Assert.Equal([UndoAction.DeleteNetns, UndoAction.DeleteLink, UndoAction.DeleteIptablesRule, UndoAction.DeleteIptablesRule, UndoAction.DeleteIptablesRule],
            undo.Steps.Select(s => s.Action));
        Assert.Equal($"iptables -w 5 -t nat -D POSTROUTING -s 10.213.0.12/30 ! -o {h} -m comment --comment katasharp:job42 -j MASQUERADE",
            string.Join(' ', undo.Steps[2].Command));
        _sysctl.Verify(s => s.Write("net.ipv4.ip_forward", "1"), Times.Once);
    }

    [Fact]
    public async Task Without_iptables_the_network_is_made_without_nat_and_forwarding_is_left_alone()
    {
        _fake.Handler = ran => ran.Command[0] == "iptables"
            ? throw new NetworkException("cannot run iptables: No such file or directory (is iptables installed?)", NetworkErrorKind.FailedPrecondition)
            : FakeNetns.Ok();
        var undo = new NetworkUndoLog();

        var nat = await new NatNetwork(_fake.Runner, NullLogger.Instance, _sysctl.Object).CreateAsync(Plan(), undo, CancellationToken.None);

        Assert.False(nat);
        _sysctl.Verify(s => s.Write(It.IsAny<string>(), It.IsAny<string>()), Times.Never);
    }

    [Fact]
    public async Task A_host_that_refuses_ip_forward_gets_no_nat_but_a_network()
    {
        _sysctl.Setup(s => s.Write("net.ipv4.ip_forward", "1")).Throws(new UnauthorizedAccessException("read-only /proc/sys"));

        var nat = await new NatNetwork(_fake.Runner, NullLogger.Instance, _sysctl.Object).CreateAsync(Plan(), new NetworkUndoLog(), CancellationToken.None);

        Assert.False(nat);
    }

    [Fact]
    public async Task Forwarding_already_on_is_not_written()
    {
        _sysctl.Setup(s => s.Read("net.ipv4.ip_forward")).Returns("1");

        Assert.True(await new NatNetwork(_fake.Runner, NullLogger.Instance, _sysctl.Object).CreateAsync(Plan(), new NetworkUndoLog(), CancellationToken.None));
        _sysctl.Verify(s => s.Write(It.IsAny<string>(), It.IsAny<string>()), Times.Never);
    }

    [Fact]
    public async Task A_failed_veth_leaves_the_netns_and_veth_in_the_undo_log()
    {
        _fake.Handler = ran => ran.Line.StartsWith("ip link add", StringComparison.Ordinal) ? FakeNetns.Fail("RTNETLINK answers: File exists") : FakeNetns.Ok();
        var undo = new NetworkUndoLog();

        var e = await Assert.ThrowsAsync<NetworkException>(() => new NatNetwork(_fake.Runner, NullLogger.Instance, _sysctl.Object).CreateAsync(Plan(), undo, CancellationToken.None));

        Assert.Contains("File exists", e.Message, StringComparison.Ordinal);
        Assert.Equal([UndoAction.DeleteNetns, UndoAction.DeleteLink], undo.Steps.Select(s => s.Action));
    }

    [Fact]
    public async Task A_netns_that_cannot_be_made_is_a_failed_precondition()
    {
        _fake.Handler = _ => FakeNetns.Fail("mount --make-shared /run/netns failed: Operation not permitted");

        var e = await Assert.ThrowsAsync<NetworkException>(() => new NatNetwork(_fake.Runner, NullLogger.Instance, _sysctl.Object).CreateAsync(Plan(), new NetworkUndoLog(), CancellationToken.None));

        Assert.Equal(NetworkErrorKind.FailedPrecondition, e.Kind);
    }
}

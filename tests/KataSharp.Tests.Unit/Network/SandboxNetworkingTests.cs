using KataSharp.Runtime.Network;
using Microsoft.Extensions.Logging.Abstractions;
using Moq;

namespace KataSharp.Tests.Unit.Network;

public sealed class SandboxNetworkingTests : IDisposable
{
    private readonly FakeNetns _fake = new();
    private readonly string _sandboxes = Directory.CreateTempSubdirectory("katasharp-sandboxes-test-").FullName;
    private readonly Mock<IHostSysctl> _sysctl = new();

    public SandboxNetworkingTests()
    {
        _sysctl.Setup(s => s.Read(It.IsAny<string>())).Returns("1");
        var scan = IpSamples.Namespace();
        HostRoutes = "[]";
        _fake.Handler = ran =>
        {
            // ip netns add/del make and remove the namespace file, as the real one does under /var/run/netns.
            if (ran.Command is ["ip", "netns", "add", var name])
            {
                File.WriteAllText(Path.Combine(_fake.Directory, name), "");
            }
            else if (ran.Command is ["ip", "netns", "del", var gone])
            {
                File.Delete(Path.Combine(_fake.Directory, gone));
            }
            else if (ran.Netns is null && ran.Line == "ip -j -4 route show table main")
            {
                return FakeNetns.Ok(HostRoutes);
            }

            return scan(ran);
        };
    }

    private string HostRoutes { get; set; }

    public void Dispose()
    {
        _fake.Dispose();
        Directory.Delete(_sandboxes, recursive: true);
    }

    private SandboxNetworking Networking() => new(NullLogger.Instance, _fake.Runner, _sysctl.Object) { NetnsDirectory = _fake.Directory };

    private string SandboxDirectory(string id) => Directory.CreateDirectory(Path.Combine(_sandboxes, id)).FullName;

    [Fact]
    public async Task None_touches_nothing()
    {
        var attachment = await Networking().AttachAsync(SandboxNetworkRequest.None, "a", SandboxDirectory("a"), CancellationToken.None);

        Assert.Null(attachment.NetnsPath);
        Assert.Empty(attachment.Nics);
        Assert.Empty(_fake.Ran);
        Assert.Null(NetworkRecordStore.Read(Path.Combine(_sandboxes, "a")));
    }

    [Fact]
    public async Task Nat_sandboxes_get_distinct_subnets_and_a_record_that_lists_everything()
    {
        var first = await Networking().AttachAsync(SandboxNetworkRequest.Nat, "a", SandboxDirectory("a"), CancellationToken.None);
        var second = await Networking().AttachAsync(SandboxNetworkRequest.Nat, "b", SandboxDirectory("b"), CancellationToken.None);

        Assert.Equal(("10.213.0.2/30", "10.213.0.6/30"), (first.GuestAddress, second.GuestAddress));
        Assert.Equal(Path.Combine(_fake.Directory, "ks-a"), first.NetnsPath);
        Assert.Equal("tap0_ks", Assert.Single(first.Nics).TapName);
        Assert.True(first.Nat);
        var record = NetworkRecordStore.Read(Path.Combine(_sandboxes, "a"))!;
        Assert.Equal(("nat", 0, first.NetnsPath), (record.Mode, record.SubnetIndex, record.NetnsPath));
        Assert.Equal([UndoAction.DeleteNetns, UndoAction.DeleteLink, UndoAction.DeleteIptablesRule, UndoAction.DeleteIptablesRule,
            UndoAction.DeleteIptablesRule, UndoAction.DeleteLink, UndoAction.DeleteIngressQdisc], record.Undo.Select(s => s.Action));
    }

    [Fact]
    public async Task A_subnet_the_host_already_routes_is_skipped()
    {
        HostRoutes = """[{"dst":"default","gateway":"192.0.2.1","dev":"eth0"},{"dst":"10.213.0.0/29","dev":"br9","protocol":"kernel","scope":"link"}]""";

        var attachment = await Networking().AttachAsync(SandboxNetworkRequest.Nat, "a", SandboxDirectory("a"), CancellationToken.None);

        Assert.Equal("10.213.0.10/30", attachment.GuestAddress);
    }

    [Fact]
    public async Task A_removed_sandbox_frees_its_subnet_for_the_next()
    {
        await Networking().AttachAsync(SandboxNetworkRequest.Nat, "a", SandboxDirectory("a"), CancellationToken.None);
        await Networking().TeardownAsync(Path.Combine(_sandboxes, "a"), CancellationToken.None);

        var next = await Networking().AttachAsync(SandboxNetworkRequest.Nat, "b", SandboxDirectory("b"), CancellationToken.None);

        Assert.Equal("10.213.0.2/30", next.GuestAddress);
    }

    [Fact]
    public async Task Teardown_undoes_the_record_last_first_deletes_it_and_is_idempotent()
    {
        await Networking().AttachAsync(SandboxNetworkRequest.Nat, "a", SandboxDirectory("a"), CancellationToken.None);
        _fake.Clear();

        await Networking().TeardownAsync(Path.Combine(_sandboxes, "a"), CancellationToken.None);

        var lines = _fake.Lines;
        Assert.Equal(7, lines.Count);
        Assert.Equal("tc qdisc del dev eth0 ingress", lines[0]);
        Assert.Equal("ip link del dev tap0_ks", lines[1]);
        Assert.All(lines.Skip(2).Take(3), l => Assert.Contains(" -D ", l, StringComparison.Ordinal));
        Assert.Equal($"ip link del dev {new NatNetworkPlan("a", SubnetPool.SubnetAt(0)).HostLinkName}", lines[^2]);
        Assert.Equal("ip netns del ks-a", lines[^1]);
        Assert.Null(NetworkRecordStore.Read(Path.Combine(_sandboxes, "a")));
        _fake.Clear();
        await Networking().TeardownAsync(Path.Combine(_sandboxes, "a"), CancellationToken.None);
        Assert.Empty(_fake.Ran);
    }

    [Fact]
    public async Task A_failed_attach_undoes_everything_and_leaves_no_record()
    {
        var handler = _fake.Handler;
        _fake.Handler = ran => ran.Line.StartsWith("tc filter add dev tap0_ks", StringComparison.Ordinal) ? FakeNetns.Fail("Error: Specified qdisc kind is unknown.") : handler(ran);

        var e = await Assert.ThrowsAsync<NetworkException>(() => Networking().AttachAsync(SandboxNetworkRequest.Nat, "a", SandboxDirectory("a"), CancellationToken.None));

        Assert.Contains("qdisc kind is unknown", e.Message, StringComparison.Ordinal);
        var failedAt = _fake.Lines.ToList().FindIndex(l => l.StartsWith("tc filter add dev tap0_ks", StringComparison.Ordinal));
        Assert.Equal(["tc qdisc del dev eth0 ingress", "ip link del dev tap0_ks"], _fake.Lines.Skip(failedAt + 1).Take(2));
        Assert.Equal("ip netns del ks-a", _fake.Lines[^1]);
        Assert.Null(NetworkRecordStore.Read(Path.Combine(_sandboxes, "a")));
        Assert.False(File.Exists(Path.Combine(_fake.Directory, "ks-a")));
    }

    [Fact]
    public async Task What_teardown_cannot_remove_stays_in_the_record_for_a_retry()
    {
        var netns = _fake.Netns("cni-x");
        await Networking().AttachAsync(SandboxNetworkRequest.PodNamespace(netns), "p", SandboxDirectory("p"), CancellationToken.None);
        var handler = _fake.Handler;
        _fake.Handler = ran => ran.Line == "ip link del dev tap0_ks" ? FakeNetns.Fail("RTNETLINK answers: Device or resource busy") : handler(ran);

        var e = await Assert.ThrowsAsync<NetworkException>(() => Networking().TeardownAsync(Path.Combine(_sandboxes, "p"), CancellationToken.None));

        Assert.Contains("resource busy", e.Message, StringComparison.Ordinal);
        Assert.Equal([new UndoStep(UndoAction.DeleteLink, netns, "tap0_ks")], NetworkRecordStore.Read(Path.Combine(_sandboxes, "p"))!.Undo);
        Assert.False(await Networking().TryTeardownAsync(Path.Combine(_sandboxes, "p"), CancellationToken.None));
        _fake.Handler = handler;
        Assert.True(await Networking().TryTeardownAsync(Path.Combine(_sandboxes, "p"), CancellationToken.None));
        Assert.Null(NetworkRecordStore.Read(Path.Combine(_sandboxes, "p")));
    }

    [Fact]
    public async Task A_pod_namespace_is_mirrored_and_never_deleted()
    {
        var netns = _fake.Netns("cni-y");

        var attachment = await Networking().AttachAsync(SandboxNetworkRequest.PodNamespace(netns), "p", SandboxDirectory("p"), CancellationToken.None);
        await Networking().TeardownAsync(Path.Combine(_sandboxes, "p"), CancellationToken.None);

        Assert.Equal(netns, attachment.NetnsPath);
        Assert.Null(attachment.GuestAddress);
        Assert.DoesNotContain(_fake.Lines, l => l.Contains("netns", StringComparison.Ordinal) || l.StartsWith("iptables", StringComparison.Ordinal));
        Assert.True(File.Exists(netns));
    }

    [Fact]
    public async Task Concurrent_allocations_never_share_a_subnet()
    {
        var ids = Enumerable.Range(0, 8).Select(i => $"s{i}").ToList();
        var attachments = await Task.WhenAll(ids.Select(id => Task.Run(() => Networking().AttachAsync(SandboxNetworkRequest.Nat, id, SandboxDirectory(id), CancellationToken.None))));

        Assert.Equal(8, attachments.Select(a => a.GuestAddress).Distinct().Count());
    }

    [Fact]
    public async Task The_record_round_trips_through_json()
    {
        var netns = _fake.Netns("cni-z");
        await Networking().AttachAsync(SandboxNetworkRequest.PodNamespace(netns), "p", SandboxDirectory("p"), CancellationToken.None);

        var text = File.ReadAllText(NetworkRecordStore.PathIn(Path.Combine(_sandboxes, "p")));
        Assert.Contains("\"action\": \"DeleteIngressQdisc\"", text, StringComparison.Ordinal);
        Assert.DoesNotContain("command", text, StringComparison.OrdinalIgnoreCase);
        var record = NetworkRecordStore.Read(Path.Combine(_sandboxes, "p"))!;
        Assert.Equal(("pod", netns), (record.Mode, record.NetnsPath));
    }
}

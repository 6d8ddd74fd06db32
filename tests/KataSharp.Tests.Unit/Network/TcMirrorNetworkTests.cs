using KataSharp.Runtime.Network;
using Microsoft.Extensions.Logging.Abstractions;

namespace KataSharp.Tests.Unit.Network;

/// <summary>
/// The tc-mirror mode as production drives it: set up through <see cref="SandboxNetworking"/> (which records every
/// undo step in network.json), and taken back by a teardown that knows only that file, as <c>katasharp rm</c> in
/// another process does.
/// </summary>
public sealed class TcMirrorNetworkTests : IDisposable
{
    private readonly FakeNetns _fake = new();
    private readonly string _sandbox = Directory.CreateDirectory(Path.Combine(Directory.CreateTempSubdirectory("katasharp-mirror-test-").FullName, "s1")).FullName;

    public void Dispose()
    {
        _fake.Dispose();
        Directory.Delete(Path.GetDirectoryName(_sandbox)!, recursive: true);
    }

    private Task<SandboxNetworkAttachment> AttachAsync(string netns) =>
        new SandboxNetworking(NullLogger.Instance, _fake.Runner).AttachAsync(SandboxNetworkRequest.PodNamespace(netns), "s1", _sandbox, CancellationToken.None);

    /// <summary>A fresh instance: all it has is the sandbox's network.json.</summary>
    private Task TeardownAsync() => new SandboxNetworking(NullLogger.Instance, _fake.Runner).TeardownAsync(_sandbox, CancellationToken.None);

    private UndoStep[] RecordedUndo() => [.. NetworkRecordStore.Read(_sandbox)!.Undo];

    private static readonly string[] ScanLines =
        ["ip -j -d addr show", "ip -j -4 route show table main", "ip -j -6 route show table main", "ip -j neigh show", "tc -j qdisc show"];

    [Fact]
    public async Task Attach_builds_kata_tcfilter_pairs_and_reports_the_tap_and_veth_mac()
    {
        var netns = _fake.Netns("cni-1");
        _fake.Handler = IpSamples.Namespace();

        var attachment = await AttachAsync(netns);

        Assert.All(_fake.Ran, r => Assert.Equal(netns, r.Netns));
        Assert.Equal([.. ScanLines,
            "ip tuntap add dev tap0_ks mode tap",
            "ip link set dev tap0_ks mtu 1450 up",
            "tc qdisc add dev eth0 ingress",
            "tc qdisc add dev tap0_ks ingress",
            "tc filter add dev eth0 parent ffff: protocol all pref 49 u32 match u8 0 0 action mirred egress redirect dev tap0_ks",
            "tc filter add dev tap0_ks parent ffff: protocol all pref 49 u32 match u8 0 0 action mirred egress redirect dev eth0"], _fake.Lines);
        var nic = Assert.Single(attachment.Nics);
        Assert.Equal(("tap0_ks", IpSamples.VethMac), (nic.TapName, nic.MacAddress));
        Assert.Equal(netns, attachment.NetnsPath);
        Assert.Equal("10.99.7.2", attachment.Guest.Interfaces[0].Addresses[0].Address);
        Assert.Equal(
            [new UndoStep(UndoAction.DeleteLink, netns, "tap0_ks"), new UndoStep(UndoAction.DeleteIngressQdisc, netns, "eth0")],
            RecordedUndo());
    }

    [Fact]
    public async Task Teardown_removes_the_veth_qdisc_then_the_tap_and_the_record()
    {
        var netns = _fake.Netns("cni-1");
        _fake.Handler = IpSamples.Namespace();
        await AttachAsync(netns);
        _fake.Clear();

        await TeardownAsync();

        Assert.Equal(["tc qdisc del dev eth0 ingress", "ip link del dev tap0_ks"], _fake.Lines);
        Assert.Null(NetworkRecordStore.Read(_sandbox));
    }

    [Theory]
    [InlineData("ip link set dev tap0_ks mtu 1450 up", new[] { "ip link del dev tap0_ks" })]
    [InlineData("tc qdisc add dev eth0 ingress", new[] { "tc qdisc del dev eth0 ingress", "ip link del dev tap0_ks" })]
    [InlineData("tc filter add dev tap0_ks parent ffff: protocol all pref 49 u32 match u8 0 0 action mirred egress redirect dev eth0",
        new[] { "tc qdisc del dev eth0 ingress", "ip link del dev tap0_ks" })]
    public async Task A_failed_step_undoes_everything_before_it_and_names_the_command(string failing, string[] undone)
    {
        var netns = _fake.Netns("cni-1");
        var scan = IpSamples.Namespace();
        var failed = false;
        _fake.Handler = ran =>
        {
            if (failed || ran.Line != failing)
            {
                return scan(ran);
            }

            failed = true;
            return FakeNetns.Fail("RTNETLINK answers: Operation not permitted");
        };

        var e = await Assert.ThrowsAsync<NetworkException>(() => AttachAsync(netns));

        Assert.Contains(failing, e.Message, StringComparison.Ordinal);
        Assert.Contains("Operation not permitted", e.Message, StringComparison.Ordinal);
        Assert.Contains(netns, e.Message, StringComparison.Ordinal);
        var lines = _fake.Lines.ToList();
        Assert.Equal(undone, lines.Skip(lines.IndexOf(failing) + 1));
        Assert.Null(NetworkRecordStore.Read(_sandbox)); // all undone: nothing left for rm to retry
    }

    [Fact]
    public async Task A_timed_out_tap_creation_is_still_undone()
    {
        var netns = _fake.Netns("cni-1");
        var scan = IpSamples.Namespace();
        _fake.Handler = ran => ran.Line.StartsWith("ip tuntap add", StringComparison.Ordinal)
            ? throw new NetworkException("ip tuntap add dev tap0_ks mode tap did not finish within 10 s")
            : scan(ran);

        await Assert.ThrowsAsync<NetworkException>(() => AttachAsync(netns));

        Assert.Equal("ip link del dev tap0_ks", _fake.Lines[^1]);
    }

    [Fact]
    public async Task An_existing_ingress_qdisc_is_kept_and_only_our_filter_is_removed()
    {
        var netns = _fake.Netns("cni-1");
        _fake.Handler = IpSamples.Namespace(qdiscs: IpSamples.EthIngress);

        await AttachAsync(netns);

        Assert.DoesNotContain("tc qdisc add dev eth0 ingress", _fake.Lines);
        Assert.Contains("tc qdisc add dev tap0_ks ingress", _fake.Lines);
        _fake.Clear();
        await TeardownAsync();
        Assert.Equal(["tc filter del dev eth0 parent ffff: pref 49", "ip link del dev tap0_ks"], _fake.Lines);
    }

    [Fact]
    public async Task Every_endpoint_gets_its_own_tap_and_a_down_one_is_brought_up_and_back_down()
    {
        var netns = _fake.Netns("multus");
        _fake.Handler = IpSamples.Namespace(addr: IpSamples.TwoVeths);

        var attachment = await AttachAsync(netns);

        Assert.Equal([("tap0_ks", "02:00:00:00:00:02"), ("tap1_ks", "02:00:00:00:00:03")], attachment.Nics.Select(n => (n.TapName, n.MacAddress)));
        Assert.Contains("ip link set dev tap0_ks mtu 1500 up", _fake.Lines);
        Assert.Contains("ip link set dev tap1_ks mtu 9000 up", _fake.Lines);
        Assert.Contains("tc filter add dev eth0 parent ffff: protocol all pref 49 u32 match u8 0 0 action mirred egress redirect dev tap0_ks", _fake.Lines);
        Assert.Contains("ip link set dev eth0 up", _fake.Lines);
        Assert.DoesNotContain("ip link set dev net1 up", _fake.Lines);
        Assert.Contains("tc filter add dev net1 parent ffff: protocol all pref 49 u32 match u8 0 0 action mirred egress redirect dev tap1_ks", _fake.Lines);
        _fake.Clear();
        await TeardownAsync();
        // Every tap is made before any is joined (QEMU needs them at start, the joins overlap the boot): undone in reverse.
        Assert.Equal(["tc qdisc del dev net1 ingress", "tc qdisc del dev eth0 ingress", "ip link set dev eth0 down", "ip link del dev tap1_ks", "ip link del dev tap0_ks"],
            _fake.Lines);
    }

    [Fact]
    public async Task Begin_returns_once_the_taps_exist_and_a_failed_join_is_undone_from_the_record()
    {
        var netns = _fake.Netns("cni-1");
        var scan = IpSamples.Namespace();
        var join = new TaskCompletionSource();
        const string filter = "tc filter add dev eth0 parent ffff: protocol all pref 49 u32 match u8 0 0 action mirred egress redirect dev tap0_ks";
        _fake.Handler = ran =>
        {
            if (ran.Line == filter)
            {
                join.Task.Wait();
                return FakeNetns.Fail("RTNETLINK answers: Operation not permitted");
            }

            return scan(ran);
        };
        var networking = new SandboxNetworking(NullLogger.Instance, _fake.Runner);

        var attachment = await networking.BeginAttachAsync(SandboxNetworkRequest.PodNamespace(netns), "s1", _sandbox, CancellationToken.None);

        Assert.Equal("tap0_ks", Assert.Single(attachment.Nics).TapName);
        Assert.Contains("ip tuntap add dev tap0_ks mode tap", _fake.Lines);
        Assert.False(attachment.Completion.IsCompleted);
        join.SetResult();
        var e = await Assert.ThrowsAsync<NetworkException>(() => attachment.Completion);
        Assert.Contains(filter, e.Message, StringComparison.Ordinal);
        _fake.Clear();
        await TeardownAsync();
        Assert.Equal(["tc qdisc del dev eth0 ingress", "ip link del dev tap0_ks"], _fake.Lines);
        Assert.Null(NetworkRecordStore.Read(_sandbox));
    }

    [Fact]
    public async Task A_tap_of_ours_already_in_the_namespace_is_a_failed_precondition_and_nothing_is_touched()
    {
        var netns = _fake.Netns("cni-1");
        var withTap = IpSamples.Addr[..IpSamples.Addr.LastIndexOf(']')] +
            """,{"ifindex":7,"ifname":"tap0_ks","flags":["UP"],"mtu":1500,"link_type":"ether","address":"02:00:00:00:00:07","linkinfo":{"info_kind":"tun"},"addr_info":[]}]""";
        _fake.Handler = IpSamples.Namespace(addr: withTap);

        var e = await Assert.ThrowsAsync<NetworkException>(() => AttachAsync(netns));

        Assert.Equal(NetworkErrorKind.FailedPrecondition, e.Kind);
        Assert.Contains("tap0_ks already exists", e.Message, StringComparison.Ordinal);
        Assert.Equal(ScanLines, _fake.Lines);
    }

    [Fact]
    public async Task A_missing_namespace_is_an_invalid_argument()
    {
        var e = await Assert.ThrowsAsync<NetworkException>(() => AttachAsync(Path.Combine(_fake.Directory, "gone")));

        Assert.Equal(NetworkErrorKind.InvalidArgument, e.Kind);
        Assert.Empty(_fake.Ran);
    }

    [Fact]
    public async Task A_namespace_with_only_lo_gives_no_nic()
    {
        var netns = _fake.Netns("empty");
        _fake.Handler = IpSamples.Namespace(addr: """[{"ifindex":1,"ifname":"lo","flags":["LOOPBACK"],"mtu":65536,"link_type":"loopback","address":"00:00:00:00:00:00","addr_info":[]}]""");

        var attachment = await AttachAsync(netns);

        Assert.Empty(attachment.Nics);
        Assert.True(attachment.Guest.IsEmpty);
        Assert.Equal(ScanLines, _fake.Lines);
    }
}

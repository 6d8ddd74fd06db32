namespace KataSharp.Tests.EndToEnd;

/// <summary>Which leftovers a testbed sweeps: only its kind's, only of runs that are gone, only what nothing alive uses.</summary>
public sealed class TestbedLeftoversTests
{
    private const int Gone = 4100;
    private const int Alive = 4200;
    private static readonly string GoneDaemon = $"/tmp/{TestbedLeftovers.DirectoryPrefix("ksctd", Gone)}abc";

    [Theory]
    [InlineData("ksbr0-4100", 4100)]
    [InlineData("ksbr1-77", 77)]
    [InlineData("ksctd4100-x1y2", 4100)]
    [InlineData("ks-e2e4100-x1y2", 4100)]
    [InlineData("kse2e1-4100", 4100)]
    [InlineData("ksbr04100", null)]
    [InlineData("ksctdabc", null)]
    [InlineData("ks-e2eabc", null)]
    [InlineData("eth0", null)]
    [InlineData("cni-1234-5678", null)]
    [InlineData("br-ksbr0-4100", null)]
    public void Owner_IsThePidInATestbedName(string name, int? owner) => Assert.Equal(owner, TestbedLeftovers.Owner(name));

    [Fact]
    public void Names_AreTheirOwnersAndFitAnInterfaceName()
    {
        Assert.Equal(4194304, TestbedLeftovers.Owner(TestbedLeftovers.BridgeName(1, 4194304)));
        Assert.True(TestbedLeftovers.BridgeName(1, 4194304).Length <= 15);
        Assert.Equal(Gone, TestbedLeftovers.Owner(Path.GetFileName(TestbedLeftovers.StateDirectory(0, Gone))));
    }

    [Fact]
    public void Select_TakesTheBridgesOfGoneRunsOnly()
    {
        var plan = TestbedLeftovers.Select(Host(links: ["lo", "eth0", "ksbr0-4100", "ksbr1-4200", "ksbr04100", "docker0"]));

        Assert.Equal(["ksbr0-4100"], plan.Bridges);
    }

    [Fact]
    public void Select_TakesADirectoryOfAGoneRunWithItsMountsDeepestFirst()
    {
        var netns = $"{GoneDaemon}/state/io.containerd.grpc.v1.cri/netns/cni-1";
        var rootfs = $"{GoneDaemon}/state/io.containerd.runtime.v2.task/k8s.io/c1/rootfs";
        var shm = $"{GoneDaemon}/state/io.containerd.grpc.v1.cri/sandboxes/p1/shm";
        var plan = TestbedLeftovers.Select(Host(
            directories: [GoneDaemon, "/tmp/ksctd4200-def"],
            mounts: [new(rootfs, "overlay", "/"), new(shm, "tmpfs", "/"), new(netns, "nsfs", "net:[4026532001]"), new(rootfs + "/dev", "tmpfs", "/"),
                new("/tmp/ksctd4100-abcd/x", "tmpfs", "/")]));

        var stale = Assert.Single(plan.Directories);
        Assert.Equal(GoneDaemon, stale.Path);
        Assert.Equal(new[] { rootfs, rootfs + "/dev", netns, shm }.Order(), stale.Mounts.Order());
        Assert.True(stale.Mounts.ToList().IndexOf(rootfs + "/dev") < stale.Mounts.ToList().IndexOf(rootfs), "a mount on top of another goes first");
    }

    [Fact]
    public void Select_KeepsADirectoryALiveProcessStillNames()
    {
        var shim = $"/usr/bin/containerd-shim-katasharp-v2 -namespace k8s.io -address {GoneDaemon}/c.sock -id p1";

        Assert.Empty(TestbedLeftovers.Select(Host(directories: [GoneDaemon], commandLines: [shim])).Directories);
        Assert.Empty(TestbedLeftovers.Select(Host(directories: [GoneDaemon], commandLines: [$"rm -rf {GoneDaemon}"])).Directories);
        Assert.Single(TestbedLeftovers.Select(Host(directories: [GoneDaemon], commandLines: [$"ls {GoneDaemon}x/c.sock"])).Directories);
    }

    [Fact]
    public void Select_KeepsADirectoryWithANetnsAProcessStillRunsIn()
    {
        var netns = new HostMount($"{GoneDaemon}/state/io.containerd.grpc.v1.cri/netns/cni-1", "nsfs", "net:[4026532001]");

        Assert.Empty(TestbedLeftovers.Select(Host(directories: [GoneDaemon], mounts: [netns], namespaces: ["net:[4026532001]"])).Directories);
        Assert.Single(TestbedLeftovers.Select(Host(directories: [GoneDaemon], mounts: [netns], namespaces: ["net:[4026531840]"])).Directories);
    }

    [Fact]
    public void Select_KeepsEverythingOfALiveRunAndAnythingNotATestbeds()
    {
        var plan = TestbedLeftovers.Select(Host(
            links: ["ksbr0-4200"],
            directories: ["/tmp/ksctd4200-abc", "/tmp/ks-e2e4200-abc", "/run/kse2e0-4200", "/tmp/ksctdabc", "/tmp/other4100-abc"]));

        Assert.Empty(plan.Bridges);
        Assert.Empty(plan.Directories);
    }

    private static HostSnapshot Host(string[]? links = null, string[]? directories = null, string[]? commandLines = null,
        string[]? namespaces = null, HostMount[]? mounts = null) =>
        new(links ?? [], directories ?? [], new HashSet<int> { 1, Alive }, commandLines ?? ["/sbin/init"],
            (namespaces ?? ["net:[4026531840]"]).ToHashSet(), mounts ?? []);
}

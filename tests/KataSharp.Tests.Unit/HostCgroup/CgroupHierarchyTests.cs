using KataSharp.Shim.HostCgroup;

namespace KataSharp.Tests.Unit.HostCgroup;

public sealed class CgroupHierarchyTests
{
    // This host: v1 controllers, one per mount, and the v2 hierarchy at /sys/fs/cgroup/unified.
    private static readonly string[] HybridMounts =
    [
        "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755",
        "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu",
        "33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct",
        "34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset",
        "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory",
        "36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices",
        "38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio",
        "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids",
        "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd",
        "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw",
    ];

    private static readonly string[] HybridSelf =
    [
        "9:name=systemd:/", "8:pids:/", "7:blkio:/", "5:devices:/", "4:memory:/sessions/42", "3:cpuset:/", "2:cpuacct:/", "1:cpu:/", "0::/sessions/42",
    ];

    [Fact]
    public void OnAHybridHostEveryAccountingV1HierarchyAndTheUnifiedOneAreFoundWithWhereThisProcessIs()
    {
        var hierarchies = CgroupHierarchy.Parse(HybridMounts, HybridSelf);

        Assert.Equal(
            ["/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpuacct", "/sys/fs/cgroup/memory", "/sys/fs/cgroup/blkio", "/sys/fs/cgroup/pids", "/sys/fs/cgroup/unified"],
            hierarchies.Select(h => h.MountPoint));
        var memory = Assert.Single(hierarchies, h => h.Controllers.Contains("memory"));
        Assert.Equal("/sessions/42", memory.Origin);
        Assert.Equal("/sys/fs/cgroup/memory/kubepods/pod1/abc", memory.Directory("/kubepods/pod1/abc"));
        var unified = Assert.Single(hierarchies, h => h.Unified);
        Assert.Equal("/sessions/42", unified.Origin);
    }

    [Fact]
    public void CoMountedControllersAreOneHierarchyAndAMountOfASubtreeOrTheSameHierarchyTwiceIsSkipped()
    {
        var hierarchies = CgroupHierarchy.Parse(
            [
                "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct",
                "33 31 0:29 / /mnt/again rw - cgroup cgroup rw,cpu,cpuacct",
                "34 31 0:29 /kubepods /var/lib/bind rw - cgroup cgroup rw,cpu,cpuacct",
            ],
            ["2:cpu,cpuacct:/a"]);

        var cpu = Assert.Single(hierarchies);
        Assert.Equal("/sys/fs/cgroup/cpu,cpuacct", cpu.MountPoint);
        Assert.Equal(["cpu", "cpuacct"], cpu.Controllers);
        Assert.Equal("/a", cpu.Origin);
    }

    [Fact]
    public void OnAV2HostTheOneHierarchyIsTheRoot()
    {
        var hierarchies = CgroupHierarchy.Parse(["28 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate"], ["0::/system.slice/containerd.service"]);

        var root = Assert.Single(hierarchies);
        Assert.True(root.Unified);
        Assert.Equal("/sys/fs/cgroup", root.MountPoint);
        Assert.Equal("/system.slice/containerd.service", root.Origin);
    }

    [Fact]
    public void ThisHostsOwnHierarchiesIncludeMemoryWhereverThereIsOne()
    {
        var hierarchies = CgroupHierarchy.Discover();

        Assert.All(hierarchies, h => Assert.True(Directory.Exists(h.Directory(h.Origin)), h.ToString()));
        Assert.Equal(File.ReadAllText("/proc/self/mountinfo").Contains(" - cgroup2 ", StringComparison.Ordinal), hierarchies.Any(h => h.Unified));
    }
}

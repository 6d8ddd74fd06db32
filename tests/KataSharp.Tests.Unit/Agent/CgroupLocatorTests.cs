using KataSharp.Agent.Containers;
using Xunit;

namespace KataSharp.Tests.Unit.Agent;

public sealed class CgroupLocatorTests
{
    [Fact]
    public void UnifiedPathComesFromTheZeroLine()
    {
        const string hybrid = "12:memory:/katasharp/c1\n1:name=systemd:/\n0::/katasharp/c1\n";

        Assert.Equal("/katasharp/c1", CgroupLocator.ParseUnifiedPath(hybrid));
        Assert.Null(CgroupLocator.ParseUnifiedPath("4:pids:/\n"));
    }

    [Fact]
    public void Cgroup2MountPrefersSysFsCgroup()
    {
        const string guest = "22 1 0:20 / /proc rw,nosuid - proc proc rw\n30 25 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw,nsdelegate\n";
        const string hybridHost = "31 25 0:27 / /sys/fs/cgroup ro - tmpfs tmpfs ro,mode=755\n32 31 0:28 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n";

        Assert.Equal("/sys/fs/cgroup", CgroupLocator.ParseUnifiedMount(guest));
        Assert.Equal("/sys/fs/cgroup/unified", CgroupLocator.ParseUnifiedMount(hybridHost));
        Assert.Equal("/sys/fs/cgroup", CgroupLocator.ParseUnifiedMount(hybridHost + "40 31 0:40 / /sys/fs/cgroup rw - cgroup2 none rw\n"));
        Assert.Null(CgroupLocator.ParseUnifiedMount("22 1 0:20 / /proc rw - proc proc rw\n"));
    }
}

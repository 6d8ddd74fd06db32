using KataSharp.Shim.TaskService;
using Microsoft.Extensions.Logging.Abstractions;

namespace KataSharp.Tests.Unit.Shim;

/// <summary>The VM's host cgroup, over a directory tree that stands in for /sys/fs/cgroup.</summary>
public sealed class HostPodCgroupTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("ks-cgroup-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Theory]
    [InlineData("/kubepods/pod1/abc", new[] { "kubepods", "pod1", "abc" })]
    [InlineData("/k8s.io//abc/", new[] { "k8s.io", "abc" })]
    public void CgroupfsPathsAreSplitIntoSegments(string path, string[] segments) => Assert.Equal(segments, HostPodCgroup.Segments(path));

    [Theory]
    [InlineData("kubepods/abc")]
    [InlineData("system.slice:cri-containerd:abc")]
    [InlineData("/kubepods/../../etc")]
    [InlineData("/./abc")]
    [InlineData("/")]
    public void RelativeSystemdAndEscapingPathsAreNotJoined(string path)
    {
        Assert.Null(HostPodCgroup.Segments(path));
        Assert.Null(HostPodCgroup.Join(path, 42, NullLogger.Instance, _root));
    }

    [Fact]
    public async Task OnCgroupV2TheVmIsMovedIntoTheLeafWithTheControllersHandedDownAndOnlyTheLeafIsRemoved()
    {
        File.WriteAllText(Path.Combine(_root, "cgroup.controllers"), "cpu memory pids io");

        var cgroup = HostPodCgroup.Join("/ks-parent/pod1", 42, NullLogger.Instance, _root);

        var leaf = Path.Combine(_root, "ks-parent", "pod1");
        Assert.Equal([leaf], cgroup!.Leaves);
        Assert.Equal("42", File.ReadAllText(Path.Combine(leaf, "cgroup.procs")));
        // A plain file keeps only the last write: every controller is asked for, io last.
        Assert.Equal("+io", File.ReadAllText(Path.Combine(_root, "ks-parent", "cgroup.subtree_control")));
        File.Delete(Path.Combine(leaf, "cgroup.procs"));
        await cgroup.RemoveAsync();
        Assert.False(Directory.Exists(leaf));
        Assert.True(Directory.Exists(Path.Combine(_root, "ks-parent")));
    }

    [Fact]
    public void OnCgroupV1EveryAccountingHierarchyButCpusetIsJoined()
    {
        foreach (var controller in new[] { "cpu", "cpuacct", "memory", "pids", "cpuset" })
        {
            Directory.CreateDirectory(Path.Combine(_root, controller));
            File.WriteAllText(Path.Combine(_root, controller, "cgroup.procs"), "");
        }

        var cgroup = HostPodCgroup.Join("/k8s.io/pod1", 42, NullLogger.Instance, _root);

        Assert.Equal(["cpu", "cpuacct", "memory", "pids"], cgroup!.Leaves.Select(l => Path.GetFileName(Path.GetDirectoryName(Path.GetDirectoryName(l)))));
        Assert.All(cgroup.Leaves, l => Assert.Equal("42", File.ReadAllText(Path.Combine(l, "cgroup.procs"))));
        Assert.Equal("3", File.ReadAllText(Path.Combine(_root, "memory", "k8s.io", "pod1", "memory.move_charge_at_immigrate")));
        Assert.False(Directory.Exists(Path.Combine(_root, "cpuset", "k8s.io")));
    }

    [Fact]
    public void NoPathMeansNoCgroup() => Assert.Null(HostPodCgroup.Join(null, 42, NullLogger.Instance, _root));
}

using KataSharp.Shim.HostCgroup;

namespace KataSharp.Tests.Unit.HostCgroup;

public sealed class PodCgroupPathTests
{
    [Theory]
    [InlineData("/kubepods/pod1/abc", new[] { "kubepods", "pod1", "abc" })]
    [InlineData("/k8s.io//abc/", new[] { "k8s.io", "abc" })]
    public void CgroupfsPathsAreSplitIntoSegments(string path, string[] segments)
    {
        var parsed = Assert.IsType<PodCgroupPath.Cgroupfs>(PodCgroupPath.Parse(path, out _));
        Assert.Equal(segments, parsed.Segments);
        Assert.Equal("/" + string.Join('/', segments), parsed.Path);
    }

    [Theory]
    [InlineData("kubepods-burstable-pod1.slice:cri-containerd:abc", "kubepods-burstable-pod1.slice", "cri-containerd-abc.scope")]
    [InlineData(":cri-containerd:abc", "system.slice", "cri-containerd-abc.scope")]
    [InlineData("machine.slice::abc", "machine.slice", "abc.scope")]
    public void SystemdPathsNameAScopeInASlice(string path, string slice, string unit) =>
        Assert.Equal(new PodCgroupPath.Systemd(slice, unit), PodCgroupPath.Parse(path, out _));

    [Theory]
    [InlineData("kubepods/abc", "absolute")]
    [InlineData("/kubepods/../../etc", "below the hierarchy's root")]
    [InlineData("/./abc", "below the hierarchy's root")]
    [InlineData("/", "below the hierarchy's root")]
    [InlineData("/a:b", "absolute")]
    [InlineData("kubepods:cri-containerd:abc", "slice")]
    [InlineData("kubepods.slice:cri-containerd:sub.slice", "not a slice")]
    [InlineData("kubepods.slice:cri-containerd:", "slice")]
    [InlineData("kubepods.slice:../x:abc", "slice")]
    public void OtherPathsAreRefusedWithTheReason(string path, string reason)
    {
        Assert.Null(PodCgroupPath.Parse(path, out var error));
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }
}

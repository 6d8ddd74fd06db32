using KataSharp.Runtime.Containerd;
using Xunit;

namespace KataSharp.Tests.Unit.Runtime;

public sealed class ContainerdConfigFragmentTests
{
    [Theory]
    [InlineData("# containerd 2\nversion = 3\n\n[plugins]\n")]
    [InlineData("version=3 # forky\n")]
    public void AVersionThreeConfig_GetsTheVersionThreeDropIn(string config)
    {
        Assert.Same(ContainerdConfigFragment.Version3, ContainerdConfigFragment.Choose(new ContainerdVersion(2, 1), config));
        Assert.True(ContainerdConfigFragment.Version3.DropIn);
    }

    [Theory]
    [InlineData(1, "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\"]\n")] // bookworm
    [InlineData(2, "version = 2\n")] // containerd 2.x still reading a version 2 file
    [InlineData(2, "[plugins]\n  version = 3\n")] // not top level
    public void AVersionTwoConfig_GetsTheVersionTwoFragmentToAdd(int major, string config)
    {
        Assert.Same(ContainerdConfigFragment.Version2, ContainerdConfigFragment.Choose(new ContainerdVersion(major, 1), config));
        Assert.False(ContainerdConfigFragment.Version2.DropIn);
    }

    [Fact]
    public void WithoutAConfig_TheContainerdReleaseDecides()
    {
        Assert.Same(ContainerdConfigFragment.Version3, ContainerdConfigFragment.Choose(new ContainerdVersion(2, 0), null));
        Assert.Same(ContainerdConfigFragment.Version2, ContainerdConfigFragment.Choose(new ContainerdVersion(1, 7), null));
        Assert.Same(ContainerdConfigFragment.Version2, ContainerdConfigFragment.Choose(null, null));
    }

    [Fact]
    public void AConfigWithoutVersion_IsVersionOne() => Assert.Equal(1, ContainerdConfigFragment.DeclaredVersion("root = \"/var/lib/containerd\"\n"));
}

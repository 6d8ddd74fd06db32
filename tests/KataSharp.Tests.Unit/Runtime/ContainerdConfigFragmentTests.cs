using KataSharp.Runtime.Containerd;
using Xunit;

namespace KataSharp.Tests.Unit.Runtime;

public sealed class ContainerdConfigFragmentTests
{
    [Fact]
    public void TheRunningContainerdsReleaseDecides()
    {
        Assert.Equal(ContainerdConfigFragment.Version3, ContainerdConfigFragment.Choose(new ContainerdVersion(2, 1), "version = 2\n"));
        Assert.Equal(ContainerdConfigFragment.Version2, ContainerdConfigFragment.Choose(new ContainerdVersion(1, 6), "version = 3\n"));
    }

    [Theory]
    [InlineData("# containerd 2\nversion = 3\n\n[plugins]\n", ContainerdConfigFragment.Version3)]
    [InlineData("version=2 # bookworm\n[plugins.\"io.containerd.grpc.v1.cri\"]\n", ContainerdConfigFragment.Version2)]
    [InlineData("[plugins]\n  version = 3\n", ContainerdConfigFragment.Version2)] // not top level
    [InlineData(null, ContainerdConfigFragment.Version2)]
    public void WithoutAContainerd_TheConfigsVersionDecides(string? config, string expected) =>
        Assert.Equal(expected, ContainerdConfigFragment.Choose(null, config));

    [Fact]
    public void AConfigWithoutVersion_IsVersionOne() => Assert.Equal(1, ContainerdConfigFragment.DeclaredVersion("root = \"/var/lib/containerd\"\n"));
}

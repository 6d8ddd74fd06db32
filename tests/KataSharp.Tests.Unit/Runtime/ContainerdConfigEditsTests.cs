using KataSharp.Runtime.Containerd;

namespace KataSharp.Tests.Unit.Runtime;

public sealed class ContainerdConfigEditsTests
{
    private const string DropIn = "/etc/containerd/conf.d/katasharp.toml";

    [Fact]
    public void WithoutImports_AnImportsLineGoesAfterTheVersion_AndRevertGivesTheFileBack()
    {
        const string config = "# forky\nversion = 3\nroot = \"/var/lib/containerd\"\n\n[plugins.'io.containerd.cri.v1.runtime']\n  enable_selinux = false\n";
        var edited = ContainerdConfigEdits.AddImport(config, DropIn);
        var lines = edited.Split('\n');
        Assert.Equal("version = 3", lines[1]);
        Assert.StartsWith($"imports = [\"{DropIn}\"]", lines[2]);
        Assert.Equal([DropIn], ContainerdConfigEdits.Imports(edited));
        Assert.True(ContainerdConfigEdits.IsEdited(edited));
        Assert.Equal(config, ContainerdConfigEdits.Revert(edited));
    }

    [Theory]
    [InlineData("version = 3\nimports = []\n")] // as the e2e fixture writes it
    [InlineData("version = 3\nimports = [\"/etc/containerd/other.toml\", '/x/y.toml'] # local\n")]
    [InlineData("version = 3\nimports = [\n  \"/etc/containerd/other.toml\",\n]\n[grpc]\n")]
    public void AnExistingImportsArray_GainsTheDropIn_AndKeepsItsOwnEntries(string config)
    {
        var before = ContainerdConfigEdits.Imports(config);
        var edited = ContainerdConfigEdits.AddImport(config, DropIn);
        Assert.Equal(before.Append(DropIn), ContainerdConfigEdits.Imports(edited));
        Assert.Equal(config, ContainerdConfigEdits.Revert(edited));
        Assert.Equal(edited, ContainerdConfigEdits.AddImport(edited, DropIn));
    }

    [Theory]
    [InlineData("version = 3\nimports = [\"/etc/containerd/conf.d/*.toml\"]\n")]
    [InlineData("version = 3\nimports = [\"/etc/containerd/conf.d/katasharp.toml\"]\n")]
    public void ImportsThatAlreadyCoverTheDropIn_AreLeftAlone(string config)
    {
        Assert.Equal(config, ContainerdConfigEdits.AddImport(config, DropIn));
        Assert.False(ContainerdConfigEdits.IsEdited(config));
    }

    [Fact]
    public void AGlobInAnotherDirectory_DoesNotCoverTheDropIn()
    {
        const string config = "version = 3\nimports = [\"/etc/containerd/conf.d/*/x.toml\"]\n";
        Assert.Contains(DropIn, ContainerdConfigEdits.Imports(ContainerdConfigEdits.AddImport(config, DropIn)));
    }

    [Fact]
    public void AnImportsKeyInsideATable_IsNotTheTopLevelOne()
    {
        const string config = "version = 3\n[plugins.x]\n  imports = [\"/a\"]\n";
        var edited = ContainerdConfigEdits.AddImport(config, DropIn);
        Assert.Equal([DropIn], ContainerdConfigEdits.Imports(edited));
        Assert.Contains("  imports = [\"/a\"]", edited);
    }

    [Fact]
    public void ABlock_IsAppendedOnce_ReplacedOnReinstall_AndRemovedExactly()
    {
        const string config = "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\"]\n  sandbox_image = \"pause\"";
        var once = ContainerdConfigEdits.AddBlock(config, "[a]\n  x = 1\n");
        var twice = ContainerdConfigEdits.AddBlock(once, "[a]\n  x = 2\n");
        Assert.Single(twice.Split('\n'), l => l == ContainerdConfigEdits.BlockBegin);
        Assert.Contains("x = 2", twice);
        Assert.DoesNotContain("x = 1", twice);
        Assert.Equal(config + "\n", ContainerdConfigEdits.Revert(twice));
    }

    [Fact]
    public void AnUnclosedBlock_IsAnError_NotASilentTruncation() =>
        Assert.Throws<FormatException>(() => ContainerdConfigEdits.Revert($"version = 2\n{ContainerdConfigEdits.BlockBegin}\n[a]\n"));

    [Fact]
    public void AConfigWithoutEdits_RevertsToItself()
    {
        const string config = "version = 2\n# imports = [\"x\"]\n";
        Assert.Equal(config, ContainerdConfigEdits.Revert(config));
    }
}

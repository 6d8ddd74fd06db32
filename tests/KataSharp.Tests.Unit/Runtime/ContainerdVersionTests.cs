using KataSharp.Runtime.Containerd;
using Xunit;

namespace KataSharp.Tests.Unit.Runtime;

public sealed class ContainerdVersionTests
{
    [Theory]
    [InlineData("containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3", 1, 6)]
    [InlineData("containerd github.com/containerd/containerd/v2 2.1.9+unknown ", 2, 1)]
    [InlineData("containerd containerd.io v1.7.27 05044ec0a9a75232cad458027ca83437aae3f4da", 1, 7)]
    public void ParsesDebianAndUpstreamVersionLines(string output, int major, int minor) =>
        Assert.Equal(new ContainerdVersion(major, minor), ContainerdVersion.Parse(output));

    [Theory]
    [InlineData("")]
    [InlineData("containerd: command not found")]
    [InlineData("containerd github.com/containerd/containerd/v2 2.x")]
    public void UnreadableOutput_IsNull(string output) => Assert.Null(ContainerdVersion.Parse(output));

    [Fact]
    public void TwoPointZeroIsWhereTheV3ApisBegin()
    {
        Assert.True(new ContainerdVersion(2, 0).IsV2OrLater);
        Assert.False(new ContainerdVersion(1, 7).IsV2OrLater);
    }

    [Fact]
    public async Task A_probe_of_a_flooding_binary_reads_the_version_and_completes()
    {
        var dir = Directory.CreateTempSubdirectory("ks-containerd-version-").FullName;
        try
        {
            var binary = Path.Combine(dir, "containerd");
            File.WriteAllText(binary, "#!/bin/sh\necho 'containerd github.com/containerd/containerd 1.7.24~ds1 1.7.24~ds1-6'\nhead -c 10485760 /dev/zero\nhead -c 10485760 /dev/zero >&2\n");
            File.SetUnixFileMode(binary, (UnixFileMode)0b111_101_101);

            Assert.Equal(new ContainerdVersion(1, 7), await ContainerdVersion.ProbeAsync(binary, CancellationToken.None));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task A_missing_binary_probes_as_null() =>
        Assert.Null(await ContainerdVersion.ProbeAsync("/no/such/containerd-ks", CancellationToken.None));
}

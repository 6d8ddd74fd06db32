using Grpc.Core;
using KataSharp.Agent;
using KataSharp.Agent.Containers;
using KataSharp.Agent.Service;
using KataSharp.Protocol.Errors;
using Xunit;

namespace KataSharp.Tests.Unit.Agent;

public sealed class AgentInputTests
{
    [Theory]
    [InlineData("c1")]
    [InlineData("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")]
    [InlineData("exec_probe-1.2")]
    public void SafeIdsAreAccepted(string id)
    {
        Assert.True(Ids.IsValid(id));
    }

    [Theory]
    [InlineData("")]
    [InlineData("..")]
    [InlineData("a/b")]
    [InlineData("-rf")]
    [InlineData("has space")]
    [InlineData(".hidden")]
    public void UnsafeIdsAreInvalidArgument(string id)
    {
        Assert.False(Ids.IsValid(id));
        Assert.Equal(StatusCode.InvalidArgument, Assert.Throws<KataSharpException>(() => Ids.RequireContainerId(id)).StatusCode);
    }

    [Fact]
    public void EmptyExecIdMeansTheInitProcess()
    {
        Ids.RequireExecIdOrEmpty(string.Empty);
        Assert.Throws<KataSharpException>(() => Ids.RequireExecIdOrEmpty("../x"));
    }

    [Fact]
    public void DeveloperModeOptionsAreParsed()
    {
        var options = AgentOptions.Parse(["--listen", "unix:/tmp/a.sock", "--shared-dir", "/tmp/shared", "--run-dir", "/tmp/run", "--serial", "bogus"], isInit: false);

        Assert.Equal("/tmp/a.sock", options.ListenUnix);
        Assert.Equal("/tmp/shared", options.SharedDirOverride);
        Assert.Equal("/tmp/run/crun", options.CrunRoot);
        Assert.Equal("/tmp/run/containers", options.ContainersDir);
        Assert.False(options.EnableVsock);
        Assert.True(options.EnableSerial);
        Assert.True(AgentOptions.Parse(["--no-serial"], isInit: true) is { EnableVsock: true, EnableSerial: false });
        Assert.Single(options.Warnings);
        Assert.Throws<ArgumentException>(() => AgentOptions.Parse(["--listen", "tcp:1"], isInit: false));
    }

    [Fact]
    public void InitModeUsesTheGuestPaths()
    {
        var options = AgentOptions.Parse(["console=hvc0"], isInit: true);

        Assert.Equal(("/run/crun", "/run/katasharp/etc", "/run/katasharp/containers"), (options.CrunRoot, options.EtcDir, options.ContainersDir));
        Assert.Single(options.Warnings);
    }

    [Fact]
    public void GuestDetailsParsers()
    {
        Assert.Equal(524288UL * 1024, GuestInfo.ParseMemTotal("MemTotal:         524288 kB\nMemFree:  1 kB\n"));
        Assert.Equal(4u, GuestInfo.CountCpus("0-3"));
        Assert.Equal(3u, GuestInfo.CountCpus("0,2-3\n"));
        Assert.Equal(12.5, GuestInfo.ParseUptime("12.50 20.00"));
    }
}

using System.Text.Json;
using KataSharp.Shim.Lifecycle;
using Xunit;

namespace KataSharp.Tests.Unit.Shim;

public sealed class StartReplyTests
{
    private const string Address = "unix:///run/containerd/s/0123abcd";

    [Fact]
    public void VersionTwo_IsThePlainAddress_WhichContainerd16Dials() =>
        Assert.Equal(Address, StartReply.Format(Address, 2));

    [Fact]
    public void VersionThree_IsTheBootstrapJsonContainerd2Parses()
    {
        using var reply = JsonDocument.Parse(StartReply.Format(Address, 3));

        Assert.Equal(3, reply.RootElement.GetProperty("version").GetInt32());
        Assert.Equal(Address, reply.RootElement.GetProperty("address").GetString());
        Assert.Equal("ttrpc", reply.RootElement.GetProperty("protocol").GetString());
    }

    [Theory]
    [InlineData(null)] // containerd 1.6 sets no MAX_SHIM_VERSION
    [InlineData("")]
    [InlineData("1")]
    [InlineData("two")]
    public async Task WithoutAnOfferOfVersionTwoOrMore_TheAnswerIsTwo(string? max) =>
        Assert.Equal(2, await StartReply.NegotiateAsync(max, "/definitely/not/there", CancellationToken.None));

    [Fact]
    public async Task MaxShimVersionThree_IsTakenAtItsWord() =>
        Assert.Equal(3, await StartReply.NegotiateAsync("3", "/definitely/not/there", CancellationToken.None));

    [Theory]
    [InlineData("containerd github.com/containerd/containerd/v2 2.1.9+unknown", 3)]
    [InlineData("containerd github.com/containerd/containerd 1.7.24 abc123", 2)]
    [InlineData("containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3", 2)]
    public async Task MaxShimVersionTwo_AsksThePublishBinaryItsRelease(string versionOutput, int expected)
    {
        var fake = FakeContainerd(versionOutput);
        try
        {
            Assert.Equal(expected, await StartReply.NegotiateAsync("2", fake, CancellationToken.None));
        }
        finally
        {
            File.Delete(fake);
        }
    }

    [Theory]
    [InlineData("/definitely/not/there")]
    [InlineData("containerd")] // not a path containerd would pass
    [InlineData("")]
    public async Task AnUnknownRelease_GetsThePlainAddressEveryReleaseAccepts(string publishBinary) =>
        Assert.Equal(2, await StartReply.NegotiateAsync("2", publishBinary, CancellationToken.None));

    [Fact]
    public async Task AFailingPublishBinary_GetsThePlainAddress()
    {
        var fake = FakeContainerd("containerd github.com/containerd/containerd/v2 2.1.9", exitCode: 1);
        try
        {
            Assert.Equal(2, await StartReply.NegotiateAsync("2", fake, CancellationToken.None));
        }
        finally
        {
            File.Delete(fake);
        }
    }

    private static string FakeContainerd(string versionOutput, int exitCode = 0)
    {
        var path = Path.Combine(Path.GetTempPath(), $"fake-containerd-{Guid.NewGuid():N}");
        File.WriteAllText(path, $"#!/bin/sh\necho '{versionOutput}'\nexit {exitCode}\n");
        File.SetUnixFileMode(path, (UnixFileMode)0b111_101_101);
        return path;
    }
}

using KataSharp.Cli;
using KataSharp.Cli.Commands;
using KataSharp.Runtime.Network;

namespace KataSharp.Tests.Unit.Network;

public sealed class RunNetworkOptionTests
{
    [Theory]
    [InlineData(null)]
    [InlineData("auto")]
    [InlineData("default")]
    public void Auto_is_the_nat_network(string? mode) => Assert.Equal(SandboxNetworkMode.Nat, RunCommand.ParseNetwork(mode).Mode);

    [Fact]
    public void None_is_no_network() => Assert.Equal(SandboxNetworkMode.None, RunCommand.ParseNetwork("none").Mode);

    [Theory]
    [InlineData("host")]
    [InlineData("bridge")]
    [InlineData("")]
    public void Anything_else_is_a_usage_error(string mode) =>
        Assert.Contains("--network", Assert.Throws<UsageException>(() => RunCommand.ParseNetwork(mode)).Message, StringComparison.Ordinal);
}

using KataSharp.Runtime.Network;
using KataSharp.Shim.PortForward;
using KataSharp.Tests.Unit.Network;

namespace KataSharp.Tests.Unit.PortForward;

/// <summary>The nat rules port-forward puts in a pod's namespace: exactly what is added, and that removing takes exactly that.</summary>
public sealed class LoopbackRedirectTests : IDisposable
{
    private const string Nat = "iptables -w 5 -t nat";
    private readonly FakeNetns _fake = new();

    public void Dispose() => _fake.Dispose();

    [Fact]
    public async Task Install_makes_its_own_chain_redirecting_tcp_to_loopback_and_jumps_to_it_from_output_for_lo()
    {
        var netns = _fake.Netns("cni-1");
        _fake.Handler = r => r.Line.Contains(" -C ", StringComparison.Ordinal) ? FakeNetns.Fail("iptables: Bad rule (does a matching rule exist in that chain?).", 1) : FakeNetns.Ok();

        await new LoopbackRedirect(_fake.Runner, netns).InstallAsync(41234, CancellationToken.None);

        Assert.All(_fake.Ran, r => Assert.Equal(netns, r.Netns));
        Assert.Equal([
            $"{Nat} -N KATASHARP-PF",
            $"{Nat} -F KATASHARP-PF",
            $"{Nat} -A KATASHARP-PF -p tcp -d 127.0.0.0/8 -j REDIRECT --to-ports 41234",
            $"{Nat} -C OUTPUT -o lo -j KATASHARP-PF",
            $"{Nat} -I OUTPUT 1 -o lo -j KATASHARP-PF"], _fake.Lines);
    }

    [Fact]
    public async Task Install_over_a_crashed_shims_chain_reuses_it_emptied_and_adds_no_second_jump()
    {
        var netns = _fake.Netns("cni-1");
        _fake.Handler = r => r.Line.EndsWith("-N KATASHARP-PF", StringComparison.Ordinal) ? FakeNetns.Fail("iptables: Chain already exists.", 1) : FakeNetns.Ok();

        await new LoopbackRedirect(_fake.Runner, netns).InstallAsync(5000, CancellationToken.None);

        Assert.Contains($"{Nat} -F KATASHARP-PF", _fake.Lines);
        Assert.Contains($"{Nat} -A KATASHARP-PF -p tcp -d 127.0.0.0/8 -j REDIRECT --to-ports 5000", _fake.Lines);
        Assert.DoesNotContain(_fake.Lines, l => l.Contains(" -I OUTPUT", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Install_fails_with_the_tools_reason_when_iptables_refuses_the_rule()
    {
        var netns = _fake.Netns("cni-1");
        _fake.Handler = r => r.Line.Contains("REDIRECT", StringComparison.Ordinal) ? FakeNetns.Fail("iptables: No chain/target/match by that name.") : FakeNetns.Ok();

        var e = await Assert.ThrowsAsync<NetworkException>(() => new LoopbackRedirect(_fake.Runner, netns).InstallAsync(5000, CancellationToken.None));

        Assert.Contains("No chain/target/match", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Remove_takes_the_jump_and_the_chain_and_goes_on_after_a_failed_step()
    {
        var netns = _fake.Netns("cni-1");
        _fake.Handler = r => r.Line.Contains(" -D OUTPUT", StringComparison.Ordinal) ? FakeNetns.Fail("iptables: Bad rule.", 1) : FakeNetns.Ok();

        var failures = await new LoopbackRedirect(_fake.Runner, netns).RemoveAsync(CancellationToken.None);

        Assert.Equal([$"{Nat} -D OUTPUT -o lo -j KATASHARP-PF", $"{Nat} -F KATASHARP-PF", $"{Nat} -X KATASHARP-PF"], _fake.Lines);
        Assert.Contains("Bad rule", Assert.Single(failures), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Remove_in_a_namespace_that_is_gone_runs_nothing()
    {
        var failures = await new LoopbackRedirect(_fake.Runner, Path.Combine(_fake.Directory, "deleted")).RemoveAsync(CancellationToken.None);

        Assert.Empty(failures);
        Assert.Empty(_fake.Ran);
    }
}

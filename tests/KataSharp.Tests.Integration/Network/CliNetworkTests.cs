using System.Security.Cryptography;
using System.Text.RegularExpressions;
using KataSharp.Runtime.Network;
using KataSharp.Tests.Integration.Infrastructure;

namespace KataSharp.Tests.Integration.Network;

/// <summary>
/// <c>katasharp run</c>'s networks, one VM each: the default gives eth0 on a private /30 with the host end of
/// the veth as its gateway (pinged from the guest: an address this run created on this machine), and
/// <c>--network none</c> gives only lo. Both leave no namespace, veth or iptables rule behind.
/// NAT to the outside is configured but, by rule, never exercised.
/// </summary>
[Collection(NetworkCollection.Name)]
public sealed partial class CliNetworkTests
{
    [Fact]
    public async Task Run_gets_eth0_on_its_own_subnet_reaches_its_gateway_and_leaves_nothing()
    {
        var id = $"kstcli-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3))}";
        const string script = "ip -o -4 addr show dev eth0; gw=$(ip route | awk '/^default/ {print $3}'); echo gateway=$gw; ping -c 1 -W 5 $gw >/dev/null && echo gateway-reached; cat /etc/resolv.conf";

        var result = await RunCliAsync("run", "--verbose", "--name", id, "--", "sh", "-c", script);

        Assert.True(result.ExitCode == 0, result.ToString());
        var address = AddressPattern().Match(result.Stdout);
        Assert.True(address.Success, result.ToString());
        var guest = address.Groups[1].Value;
        var subnetBase = System.Net.IPAddress.Parse(guest).GetAddressBytes();
        Assert.Equal(2, subnetBase[3] % 4);
        // The guest address is the one the runtime allocated and logged.
        Assert.Contains($"eth0 {guest} via ", result.Stderr, StringComparison.Ordinal);
        Assert.Contains($"gateway={guest[..guest.LastIndexOf('.')]}.{subnetBase[3] - 1}", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("gateway-reached", result.Stdout, StringComparison.Ordinal);
        foreach (var server in HostDns.FromResolvConf().Servers)
        {
            Assert.Contains($"nameserver {server}", result.Stdout, StringComparison.Ordinal);
        }

        Assert.Empty(await NetworkLeftovers.OfSandboxAsync(id));
        Assert.DoesNotContain(id, await HostCommand.CheckedAsync("ip", "netns", "list"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_with_network_none_has_only_lo_and_makes_no_namespace()
    {
        var id = $"kstnone-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3))}";

        var result = await RunCliAsync("run", "--network", "none", "--name", id, "--", "sh", "-c", "ip -o link show | awk '{print $2}'");

        Assert.True(result.ExitCode == 0, result.ToString());
        var links = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.EndsWith(':')).ToList();
        Assert.Equal(["lo:"], links);
        Assert.Empty(await NetworkLeftovers.OfSandboxAsync(id));
    }

    [Fact]
    public async Task A_detached_sandboxs_network_is_removed_by_rm_from_another_process()
    {
        var id = $"kstdet-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3))}";

        var run = await RunCliAsync("run", "-d", "--name", id, "--", "sleep", "300");
        Assert.True(run.ExitCode == 0, run.ToString());
        try
        {
            // The network outlives the process that made it, recorded in the sandbox's network.json...
            Assert.NotEmpty(await NetworkLeftovers.OfSandboxAsync(id));
            Assert.True(File.Exists(Path.Combine(TestEnvironment.StateDirectory, "sandboxes", id, NetworkRecordStore.FileName)));
        }
        finally
        {
            // ...and rm, another process, takes it down from that record.
            var rm = await RunCliAsync("rm", "-f", id);
            Assert.True(rm.ExitCode == 0, rm.ToString());
        }

        Assert.Empty(await NetworkLeftovers.OfSandboxAsync(id));
    }

    [Fact]
    public async Task A_bad_network_mode_is_a_usage_error_before_any_vm()
    {
        var result = await RunCliAsync("run", "--network", "host", "--", "true");

        Assert.Equal(125, result.ExitCode);
        Assert.Contains("--network must be auto or none", result.Stderr, StringComparison.Ordinal);
    }

    private static async Task<HostCommandResult> RunCliAsync(params string[] args)
    {
        TestEnvironment.RequirePrerequisites();
        return await HostCommand.RunAsync([TestEnvironment.CliPath, .. args], null,
            new Dictionary<string, string> { ["KATASHARP_CONFIG"] = TestEnvironment.ConfigPath });
    }

    [GeneratedRegex(@"eth0\s+inet (10\.213\.\d+\.\d+)/30 ")]
    private static partial Regex AddressPattern();
}

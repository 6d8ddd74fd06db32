using System.Security.Cryptography;
using KataSharp.Runtime.Network;
using KataSharp.Tests.Integration.Infrastructure;

namespace KataSharp.Tests.Integration.Network;

[CollectionDefinition(Name)]
public sealed class NetworkCollection
{
    public const string Name = "network";
}

/// <summary>
/// The host side without a VM, against the real kernel: the tc mirror in a CNI-made namespace and the
/// katasharp run NAT network, each set up and torn down 20 times, must leave nothing behind.
/// </summary>
[Collection(NetworkCollection.Name)]
public sealed class NetworkHostSideTests
{
    private const int Rounds = 20;

    [Fact]
    public async Task Mirroring_a_cni_namespace_20_times_leaves_no_tap_or_qdisc_and_keeps_cnis_set_up()
    {
        TestEnvironment.RequirePrerequisites();
        await using var pod = await CniPodNetwork.CreateAsync("10.214.8");
        // As production drives it: the undo steps go to network.json, and teardown replays that file.
        var networking = new SandboxNetworking(TestLog.Factory.CreateLogger("network-test"));
        var sandbox = Directory.CreateTempSubdirectory("ks-mirror-").FullName;
        using var timeout = new CancellationTokenSource(TestEnvironment.OperationTimeout);

        for (var round = 0; round < Rounds; round++)
        {
            var attachment = await networking.AttachAsync(SandboxNetworkRequest.PodNamespace(pod.PodPath), "mirror-test", sandbox, timeout.Token);
            var nic = Assert.Single(attachment.Nics);
            Assert.Equal(("tap0_ks", pod.PodMac), (nic.TapName, nic.MacAddress));
            Assert.Equal(pod.PodIp, attachment.Guest.Interfaces[0].Addresses[0].Address);
            var filters = await HostCommand.CheckedAsync("nsenter", $"--net={pod.PodPath}", "--", "tc", "filter", "show", "dev", "eth0", "ingress");
            Assert.Contains("mirred", filters, StringComparison.Ordinal);
            Assert.Contains("tap0_ks", filters, StringComparison.Ordinal);

            await networking.TeardownAsync(sandbox, timeout.Token);
            Assert.Empty(await NetworkLeftovers.InNamespaceAsync(pod.PodPath));
        }

        Directory.Delete(sandbox, recursive: true);

        // CNI's own work is untouched: eth0 keeps its address, so that CNI DEL finds what it made.
        var addresses = await HostCommand.CheckedAsync("nsenter", $"--net={pod.PodPath}", "--", "ip", "-o", "addr", "show", "dev", "eth0");
        Assert.Contains(pod.PodCidr, addresses, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_nat_network_20_times_over_leaves_no_netns_veth_or_iptables_rule()
    {
        TestEnvironment.RequirePrerequisites();
        var sandboxes = TestEnvironment.NewWorkDirectory("net-sandboxes");
        var networking = new SandboxNetworking(TestLog.Factory.CreateLogger("network-test"));
        using var timeout = new CancellationTokenSource(TestEnvironment.OperationTimeout * 2);
        var ids = new List<string>();

        for (var round = 0; round < Rounds; round++)
        {
            var id = $"kstnat{round}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3))}";
            ids.Add(id);
            var directory = Directory.CreateDirectory(Path.Combine(sandboxes, id)).FullName;
            var attachment = await networking.AttachAsync(SandboxNetworkRequest.Nat, id, directory, timeout.Token);

            Assert.Equal(Path.Combine(NatNetworkPlan.IpNetnsDirectory, $"ks-{id}"), attachment.NetnsPath);
            Assert.StartsWith("10.213.", attachment.GuestAddress, StringComparison.Ordinal);
            Assert.Equal("tap0_ks", Assert.Single(attachment.Nics).TapName);
            Assert.NotEmpty(await NetworkLeftovers.OfSandboxAsync(id));
            // No VM answers here (the mirror hands every frame to the tap), so check the wiring rather than ping.
            var route = await HostCommand.CheckedAsync("ip", "-n", $"ks-{id}", "route", "show", "default");
            Assert.Contains("via 10.213.", route, StringComparison.Ordinal);

            await networking.TeardownAsync(directory, timeout.Token);
            Assert.Empty(await NetworkLeftovers.OfSandboxAsync(id));
            Assert.False(File.Exists(NetworkRecordStore.PathIn(directory)));
            Directory.Delete(directory);
        }

        Assert.DoesNotContain(await HostCommand.CheckedAsync("ip", "netns", "list"), ids.Select(id => $"ks-{id}"));
        Directory.Delete(sandboxes);
    }

    [Fact]
    public async Task Four_nat_networks_at_once_get_four_subnets_and_all_go()
    {
        TestEnvironment.RequirePrerequisites();
        var sandboxes = TestEnvironment.NewWorkDirectory("net-sandboxes");
        var networking = new SandboxNetworking(TestLog.Factory.CreateLogger("network-test"));
        using var timeout = new CancellationTokenSource(TestEnvironment.OperationTimeout);
        var ids = Enumerable.Range(0, 4).Select(i => $"kstpar{i}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3))}").ToList();
        var directories = ids.Select(id => Directory.CreateDirectory(Path.Combine(sandboxes, id)).FullName).ToList();
        try
        {
            var attachments = await Task.WhenAll(ids.Select((id, i) => networking.AttachAsync(SandboxNetworkRequest.Nat, id, directories[i], timeout.Token)));
            Assert.Equal(4, attachments.Select(a => a.GuestAddress).Distinct().Count());
        }
        finally
        {
            foreach (var directory in directories)
            {
                await networking.TeardownAsync(directory, CancellationToken.None);
            }
        }

        foreach (var id in ids)
        {
            Assert.Empty(await NetworkLeftovers.OfSandboxAsync(id));
        }

        Directory.Delete(sandboxes, recursive: true);
    }
}

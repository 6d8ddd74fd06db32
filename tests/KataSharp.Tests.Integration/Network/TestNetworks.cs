using System.Security.Cryptography;
using System.Text.Json.Nodes;
using KataSharp.Runtime.Network;
using KataSharp.Tests.Integration.Infrastructure;

namespace KataSharp.Tests.Integration.Network;

/// <summary>
/// A CNI-style pod network that lives entirely in namespaces this test creates, so that no test traffic
/// ever leaves them: a "node" namespace that holds the bridge (the stand-in for the host's cni0) and a
/// "pod" namespace that the real bridge and host-local plugins from /usr/lib/cni wire to it, as
/// containerd's CRI plugin would. Traffic to the pod is sent from the node namespace.
/// </summary>
public sealed class CniPodNetwork : IAsyncDisposable
{
    public const string PluginDirectory = "/usr/lib/cni";

    private readonly string _conf;
    private readonly string _containerId;
    private readonly string _dataDir;

    private CniPodNetwork(string suffix, string subnetPrefix)
    {
        NodeName = $"kst-node-{suffix}";
        PodName = $"kst-pod-{suffix}";
        _containerId = $"katasharp-test-{suffix}";
        _dataDir = TestEnvironment.NewWorkDirectory("cni-ipam");
        Gateway = $"{subnetPrefix}.1";
        _conf = new JsonObject
        {
            ["cniVersion"] = "1.0.0",
            ["name"] = $"kst-{suffix}",
            ["type"] = "bridge",
            ["bridge"] = "kstbr0",
            ["isGateway"] = true,
            ["ipMasq"] = false,
            ["ipam"] = new JsonObject
            {
                ["type"] = "host-local",
                ["ranges"] = new JsonArray(new JsonArray(new JsonObject { ["subnet"] = $"{subnetPrefix}.0/24", ["gateway"] = Gateway })),
                ["routes"] = new JsonArray(new JsonObject { ["dst"] = "0.0.0.0/0" }),
                ["dataDir"] = _dataDir,
            },
        }.ToJsonString();
    }

    public string NodeName { get; }
    public string PodName { get; }
    public string NodePath => Path.Combine(NatNetworkPlan.IpNetnsDirectory, NodeName);
    public string PodPath => Path.Combine(NatNetworkPlan.IpNetnsDirectory, PodName);
    public string Gateway { get; }

    /// <summary>The pod's address as host-local assigned it (e.g. 10.214.7.2/24).</summary>
    public string PodCidr { get; private set; } = "";

    public string PodIp => PodCidr.Split('/')[0];

    /// <summary>The MAC of the pod's eth0 (the veth end CNI put in the pod namespace).</summary>
    public string PodMac { get; private set; } = "";

    /// <summary>Creates both namespaces and runs CNI ADD for the pod.</summary>
    public static async Task<CniPodNetwork> CreateAsync(string subnetPrefix = "10.214.7")
    {
        var network = new CniPodNetwork(Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3)), subnetPrefix);
        try
        {
            await HostCommand.CheckedAsync("ip", "netns", "add", network.NodeName);
            await HostCommand.CheckedAsync("ip", "netns", "add", network.PodName);
            await HostCommand.CheckedAsync("ip", "-n", network.NodeName, "link", "set", "lo", "up");
            var result = await network.PluginAsync("ADD");
            Assert.True(result.ExitCode == 0, $"CNI ADD failed: {result}");
            var json = JsonNode.Parse(result.Stdout)!;
            network.PodCidr = json["ips"]![0]!["address"]!.GetValue<string>();
            network.PodMac = json["interfaces"]!.AsArray().First(i => i?["sandbox"]?.GetValue<string>() == network.PodPath)!["mac"]!.GetValue<string>().ToLowerInvariant();
            TestLog.Write($"CNI pod network: {network.PodName} eth0 {network.PodCidr} {network.PodMac}, bridge in {network.NodeName}");
            return network;
        }
        catch
        {
            await network.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (File.Exists(PodPath))
        {
            await PluginAsync("DEL");
        }

        await HostCommand.RunAsync("ip", "netns", "del", PodName);
        await HostCommand.RunAsync("ip", "netns", "del", NodeName);
        Directory.Delete(_dataDir, recursive: true);
    }

    /// <summary>Runs the bridge plugin inside the node namespace: the bridge and the host end of the veth are created where it runs.</summary>
    private Task<HostCommandResult> PluginAsync(string command) => HostCommand.RunAsync(
        ["nsenter", $"--net={NodePath}", "--", Path.Combine(PluginDirectory, "bridge")],
        _conf,
        new Dictionary<string, string>
        {
            ["CNI_COMMAND"] = command,
            ["CNI_CONTAINERID"] = _containerId,
            ["CNI_NETNS"] = PodPath,
            ["CNI_IFNAME"] = "eth0",
            ["CNI_PATH"] = PluginDirectory,
        });
}

/// <summary>What the network code may leave on the host, looked up in the kernel's own tables.</summary>
public static class NetworkLeftovers
{
    /// <summary>Our taps in a namespace, and ingress qdiscs there.</summary>
    public static async Task<IReadOnlyList<string>> InNamespaceAsync(string netnsPath)
    {
        var found = new List<string>();
        var links = IpJsonParser.ParseLinks(await HostCommand.CheckedAsync("nsenter", $"--net={netnsPath}", "--", "ip", "-j", "-d", "addr", "show"));
        found.AddRange(links.Where(l => l.Name.EndsWith(TcMirrorNetwork.TapSuffix, StringComparison.Ordinal)).Select(l => $"tap {l.Name} in {netnsPath}"));
        var qdiscs = IpJsonParser.ParseIngressQdiscDevices(await HostCommand.CheckedAsync("nsenter", $"--net={netnsPath}", "--", "tc", "-j", "qdisc", "show"));
        found.AddRange(qdiscs.Select(d => $"ingress qdisc on {d} in {netnsPath}"));
        return found;
    }

    /// <summary>The NAT network of a sandbox id: its namespace, its host veth, and iptables rules with its comment.</summary>
    public static async Task<IReadOnlyList<string>> OfSandboxAsync(string sandboxId)
    {
        var plan = new NatNetworkPlan(sandboxId, SubnetPool.SubnetAt(0));
        var found = new List<string>();
        if (File.Exists(plan.NetnsPath))
        {
            found.Add($"netns {plan.NetnsPath}");
        }

        if ((await HostCommand.RunAsync("ip", "link", "show", "dev", plan.HostLinkName)).ExitCode == 0)
        {
            found.Add($"link {plan.HostLinkName}");
        }

        foreach (var table in new[] { "nat", "filter" })
        {
            var rules = await HostCommand.CheckedAsync("iptables", "-w", "5", "-t", table, "-S");
            found.AddRange(rules.Split('\n').Where(r => r.Contains($"\"{plan.RuleComment}\"", StringComparison.Ordinal) || r.Contains($" {plan.RuleComment} ", StringComparison.Ordinal))
                .Select(r => $"iptables -t {table}: {r}"));
        }

        return found;
    }
}

using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using KataSharp.Protocol.Cri.V1;

namespace KataSharp.Tests.EndToEnd;

/// <summary>
/// Pod networking through containerd's CRI with the handler <c>katasharp</c>: the CNI bridge network of the
/// testbed (its release's 10.214.N.0/24, portmap) reaching into the VM, on each containerd release (the
/// classes below). Traffic stays on this machine: pods on the testbed bridge and the bridge's own address only.
/// </summary>
public abstract partial class PodNetworkTests
{
    private const string Handler = "katasharp";
    private const string RuncHandler = "runc";
    private static readonly TimeSpan CallTimeout = ContainerdTestbed.CallTimeout;
    private readonly ContainerdFixture _containerd;

    protected PodNetworkTests(ContainerdFixture containerd) => _containerd = containerd;

    private string BridgeGateway => $"{_containerd.Release.SubnetPrefix}.1";

    private string PodIpPattern => $@"^{Regex.Escape(_containerd.Release.SubnetPrefix)}\.\d+$";

    private static DateTime Deadline => DateTime.UtcNow + CallTimeout;

    /// <summary>How many pods the churn test creates and removes: KATASHARP_POD_CYCLES, 4 unless set (20 for a longer churn).</summary>
    private static int PodCycles =>
        Environment.GetEnvironmentVariable("KATASHARP_POD_CYCLES") is { Length: > 0 } text
            ? int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var cycles) && cycles >= 2
                ? cycles
                : throw new InvalidOperationException($"KATASHARP_POD_CYCLES must be a whole number of at least 2, not '{text}'")
            : 4;

    [ContainerdFact]
    public async Task PodNetwork_ReportedIpIsTheVmsEth0_AndHostnameAndResolvConfComeFromThePodConfig()
    {
        using var cri = new CriClient(_containerd.CriSocket);
        await using var pod = await CriPod.RunAsync(cri, "net-identity", Handler);
        var container = await CriTests.StartContainerAsync(cri, pod.Id, pod.Config, CriTests.ContainerConfig("app", "sleep", "1000"));

        var status = (await cri.Runtime.PodSandboxStatusAsync(new PodSandboxStatusRequest { PodSandboxId = pod.Id }, deadline: Deadline)).Status;
        Assert.Matches(PodIpPattern, status.Network.Ip);

        var addr = await CriTests.ExecSyncAsync(cri, container, "ip", "-4", "-o", "addr", "show", "eth0");
        Assert.True(addr.ExitCode == 0, $"ip addr: {addr.Stderr.ToStringUtf8()}");
        var inVm = Inet4().Matches(addr.Stdout.ToStringUtf8()).Select(m => m.Groups[1].Value).ToList();
        Assert.Equal([status.Network.Ip], inVm);

        var hostname = await CriTests.ExecSyncAsync(cri, container, "hostname");
        Assert.Equal(0, hostname.ExitCode);
        Assert.Equal(pod.Config.Hostname, hostname.Stdout.ToStringUtf8().Trim());

        var resolv = await CriTests.ExecSyncAsync(cri, container, "cat", "/etc/resolv.conf");
        Assert.Equal(0, resolv.ExitCode);
        var lines = resolv.Stdout.ToStringUtf8().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Contains("nameserver 10.214.0.53", lines);
        Assert.Contains(lines, l => l.StartsWith("search ", StringComparison.Ordinal) && l.Split(' ', StringSplitOptions.RemoveEmptyEntries).Contains("e2e.svc.cluster.local"));
        Assert.Contains(lines, l => l.StartsWith("options ", StringComparison.Ordinal) && l.Split(' ', StringSplitOptions.RemoveEmptyEntries).Contains("ndots:2"));
    }

    [ContainerdFact]
    public async Task PodNetwork_TwoKataSharpPodsPing_AndKataSharpAndRuncPodsTalkTcpBothWays()
    {
        using var cri = new CriClient(_containerd.CriSocket);
        await using var a = await CriPod.RunAsync(cri, "net-ks-a", Handler);
        await using var b = await CriPod.RunAsync(cri, "net-ks-b", Handler);
        await using var r = await CriPod.RunAsync(cri, "net-runc", RuncHandler);

        var aServer = await CriTests.StartContainerAsync(cri, a.Id, a.Config, HttpdContainer("marker-from-katasharp"));
        var bClient = await CriTests.StartContainerAsync(cri, b.Id, b.Config, CriTests.ContainerConfig("client", "sleep", "1000"));
        var rServer = await CriTests.StartContainerAsync(cri, r.Id, r.Config, HttpdContainer("marker-from-runc"));

        var aIp = await PodIpAsync(cri, a.Id);
        var bIp = await PodIpAsync(cri, b.Id);
        var rIp = await PodIpAsync(cri, r.Id);
        Assert.Equal(3, new[] { aIp, bIp, rIp }.Distinct().Count());

        var ping = await CriTests.ExecSyncAsync(cri, bClient, "ping", "-c", "3", "-W", "5", aIp);
        Assert.True(ping.ExitCode == 0, $"ping b -> a: {ping.Stdout.ToStringUtf8()}{ping.Stderr.ToStringUtf8()}");
        ping = await CriTests.ExecSyncAsync(cri, aServer, "ping", "-c", "3", "-W", "5", bIp);
        Assert.True(ping.ExitCode == 0, $"ping a -> b: {ping.Stdout.ToStringUtf8()}{ping.Stderr.ToStringUtf8()}");

        // katasharp -> runc, and runc -> katasharp, over TCP (busybox httpd as each pod's container command).
        Assert.Equal("marker-from-runc", await WgetEventuallyAsync(cri, aServer, $"http://{rIp}:8080/"));
        Assert.Equal("marker-from-katasharp", await WgetEventuallyAsync(cri, rServer, $"http://{aIp}:8080/"));
    }

    [ContainerdFact]
    public async Task PodNetwork_HostPortMapping_ReachesHttpdInTheVmFromTheHost()
    {
        using var cri = new CriClient(_containerd.CriSocket);
        var hostPort = 18080 + Random.Shared.Next(0, 1000);
        await using var pod = await CriPod.RunAsync(cri, "net-hostport", Handler,
            config => config.PortMappings.Add(new PortMapping { ContainerPort = 8080, HostPort = hostPort, Protocol = KataSharp.Protocol.Cri.V1.Protocol.Tcp }));
        await CriTests.StartContainerAsync(cri, pod.Id, pod.Config, HttpdContainer("marker-through-hostport"));

        // No proxy: the request must go to the bridge address of this machine, nowhere else.
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(10) };
        var url = $"http://{BridgeGateway}:{hostPort}/";
        string? body = null;
        Exception? last = null;
        var served = await HostResources.EventuallyAsync(() =>
        {
            try
            {
                body = http.GetStringAsync(url).GetAwaiter().GetResult();
                return true;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                last = e;
                return false;
            }
        }, TimeSpan.FromMinutes(2));
        Assert.True(served, $"{url} never answered: {last?.Message}");
        Assert.Equal("marker-through-hostport", body!.Trim());
    }

    /// <summary>
    /// Pods created and removed one after another (<see cref="PodCycles"/>) leave
    /// nothing behind: a leak of one of each per pod shows after the first, a leak that needs reuse after the second.
    /// </summary>
    [ContainerdFact]
    public async Task PodNetwork_PodsCreatedAndRemovedRepeatedly_LeaveNoTapQdiscNetnsVethOrSandbox()
    {
        using var cri = new CriClient(_containerd.CriSocket);
        var bridgePortsBefore = BridgePorts(_containerd.BridgeName);
        var netnsBefore = CniNetns();
        var podNetns = new List<string>();

        for (var i = 0; i < PodCycles; i++)
        {
            string podId;
            await using (var pod = await CriPod.RunAsync(cri, $"net-churn-{i}", Handler))
            {
                podId = pod.Id;
                var netns = await NetnsPathAsync(cri, pod.Id);
                Assert.True(File.Exists(netns), $"pod {i}: {netns} missing while the pod runs");
                podNetns.Add(netns);
                Assert.NotEqual(bridgePortsBefore.Count, BridgePorts(_containerd.BridgeName).Count);
            }

            Assert.False(File.Exists(podNetns[^1]), $"pod {i} ({podId}): {podNetns[^1]} is still there after RemovePodSandbox");
        }

        var clean = await HostResources.EventuallyAsync(() =>
            podNetns.All(n => !File.Exists(n))
            && BridgePorts(_containerd.BridgeName).SetEquals(bridgePortsBefore)
            && HostTaps().Count == 0
            && HostIngressQdiscs().Count == 0,
            TimeSpan.FromSeconds(60));
        Assert.True(clean, "left behind: " + string.Join("\n",
            podNetns.Where(File.Exists).Select(n => "netns " + n)
                .Concat(BridgePorts(_containerd.BridgeName).Except(bridgePortsBefore).Select(p => "veth on the bridge " + p))
                .Concat(HostTaps().Select(t => "tap " + t))
                .Concat(HostIngressQdiscs().Select(q => "qdisc " + q))));
        var newNetns = CniNetns().Except(netnsBefore).Intersect(podNetns.Select(n => Path.GetFileName(n))).ToList();
        Assert.Empty(newNetns);

        await CriTests.AssertNothingLeftAsync(_containerd, "");
    }

    private static ContainerConfig HttpdContainer(string marker) =>
        CriTests.ContainerConfig("httpd", "sh", "-c", $"mkdir -p /www && echo {marker} > /www/index.html && exec httpd -f -p 8080 -h /www");

    private async Task<string> PodIpAsync(CriClient cri, string podId)
    {
        var ip = (await cri.Runtime.PodSandboxStatusAsync(new PodSandboxStatusRequest { PodSandboxId = podId }, deadline: Deadline)).Status.Network.Ip;
        Assert.Matches(PodIpPattern, ip);
        return ip;
    }

    /// <summary>The pod's network namespace path, from containerd's verbose sandbox info (runtimeSpec).</summary>
    internal static async Task<string> NetnsPathAsync(CriClient cri, string podId)
    {
        var status = await cri.Runtime.PodSandboxStatusAsync(new PodSandboxStatusRequest { PodSandboxId = podId, Verbose = true }, deadline: Deadline);
        using var info = JsonDocument.Parse(status.Info["info"]);
        foreach (var ns in info.RootElement.GetProperty("runtimeSpec").GetProperty("linux").GetProperty("namespaces").EnumerateArray())
        {
            if (ns.GetProperty("type").GetString() == "network" && ns.TryGetProperty("path", out var path))
            {
                return path.GetString()!;
            }
        }

        throw new InvalidOperationException($"no network namespace path in the info of {podId}");
    }

    /// <summary>Retries wget (the server in the other pod may still be starting) and returns the body.</summary>
    private static async Task<string> WgetEventuallyAsync(CriClient cri, string fromContainer, string url)
    {
        ExecSyncResponse? last = null;
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
        while (DateTime.UtcNow < deadline)
        {
            // No -T: the image's busybox-static wget segfaults with it (exit 139, also on the host); the
            // ExecSync timeout (60 s) is the hang guard.
            last = await CriTests.ExecSyncAsync(cri, fromContainer, "wget", "-qO-", url);
            if (last.ExitCode == 0)
            {
                return last.Stdout.ToStringUtf8().Trim();
            }

            await Task.Delay(1000);
        }

        Assert.Fail($"wget {url} from {fromContainer}: exit {last?.ExitCode}: {last?.Stderr.ToStringUtf8()}");
        return "";
    }

    internal static HashSet<string> BridgePorts(string bridge)
    {
        var brif = $"/sys/class/net/{bridge}/brif";
        return Directory.Exists(brif) ? Directory.EnumerateFileSystemEntries(brif).Select(p => Path.GetFileName(p)).ToHashSet() : [];
    }

    private static HashSet<string> CniNetns() =>
        Directory.Exists("/var/run/netns")
            ? Directory.EnumerateFiles("/var/run/netns", "cni-*").Select(p => Path.GetFileName(p)).ToHashSet()
            : [];

    /// <summary>Our taps (<c>tap*_ks</c>) in the host namespace: they belong only in pod namespaces.</summary>
    internal static List<string> HostTaps() =>
        Directory.EnumerateFileSystemEntries("/sys/class/net").Select(p => Path.GetFileName(p))
            .Where(n => n.StartsWith("tap", StringComparison.Ordinal) && n.EndsWith("_ks", StringComparison.Ordinal)).ToList();

    /// <summary>Ingress qdiscs on the host's veths or our taps (the tc mirror's qdiscs live in the pod namespace only).</summary>
    internal static List<string> HostIngressQdiscs()
    {
        using var tc = Process.Start(new ProcessStartInfo("tc", ["qdisc", "show"]) { RedirectStandardOutput = true, UseShellExecute = false })!;
        var output = tc.StandardOutput.ReadToEnd();
        tc.WaitForExit(10_000);
        return output.Split('\n')
            .Where(l => l.StartsWith("qdisc ingress", StringComparison.Ordinal) && (l.Contains(" dev veth", StringComparison.Ordinal) || l.Contains("_ks ", StringComparison.Ordinal)))
            .ToList();
    }

    [GeneratedRegex(@"inet (\d+\.\d+\.\d+\.\d+)/")]
    private static partial Regex Inet4();
}

[Collection(KataSharpContainerdCollection.Name)]
public sealed class PodNetworkTestsOnContainerd16(KataSharpContainerd containerd) : PodNetworkTests(containerd);

[Collection(KataSharpContainerd2Collection.Name)]
public sealed class PodNetworkTestsOnContainerd2(KataSharpContainerd2 containerd) : PodNetworkTests(containerd);

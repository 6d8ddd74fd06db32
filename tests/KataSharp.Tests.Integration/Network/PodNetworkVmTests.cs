using System.Security.Cryptography;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Google.Protobuf.WellKnownTypes;
using KataSharp.Protocol.Agent.V1;
using KataSharp.Runtime.Network;
using KataSharp.Runtime.Sandbox;
using KataSharp.Tests.Integration.Infrastructure;

namespace KataSharp.Tests.Integration.Network;

/// <summary>
/// Design decision 10 end to end, with one real VM: the real CNI bridge and host-local plugins prepare a pod
/// namespace, the sandbox is created with only its path (as the shim does), and from the CNI side of the
/// veth we ping the VM (busybox ping) and fetch HTTP from busybox httpd in a container (GNU wget: busybox
/// wget -T crashes on this host). Every packet stays inside the two namespaces the test made.
/// </summary>
[Collection(NetworkCollection.Name)]
public sealed class PodNetworkVmTests
{
    private const string Dns = "10.214.9.53";

    // What CNI plugins or an operator may add beside the IPv4 address: the guest must get these too.
    private const string Ipv6Cidr = "fd00:214:9::2/64";
    private const string StaticNeighbor = "10.214.9.77";
    private const string StaticNeighborMac = "02:00:00:00:00:77";

    [Fact]
    public async Task A_cni_pod_network_reaches_the_vm_and_its_containers_and_is_left_as_cni_made_it()
    {
        TestEnvironment.RequirePrerequisites();
        await using var pod = await CniPodNetwork.CreateAsync("10.214.9");
        await HostCommand.CheckedAsync("ip", "-n", pod.PodName, "-6", "addr", "add", Ipv6Cidr, "dev", "eth0", "nodad");
        await HostCommand.CheckedAsync("ip", "-n", pod.PodName, "neigh", "add", StaticNeighbor, "lladdr", StaticNeighborMac, "dev", "eth0", "nud", "permanent");
        var manager = new SandboxManager(TestEnvironment.LoadConfig(), TestLog.Factory);
        using var timeout = new CancellationTokenSource(TestEnvironment.OperationTimeout * 2);
        var sandbox = await manager.CreateAsync(new SandboxOptions
        {
            Hostname = "netpod",
            NetworkNamespacePath = pod.PodPath,
            DnsServers = [Dns],
            DnsSearches = ["pod.test"],
        }, timeout.Token);
        try
        {
            // QEMU runs in the pod namespace (so /proc/<pid>/ns/net is the pod's, as CRI expects).
            Assert.Equal(ResolveLink(pod.PodPath), ResolveLink($"/proc/{sandbox.Hypervisor.Pid}/ns/net"));

            // The guest NIC has the veth's MAC, name and address (ListInterfaces through the agent).
            var interfaces = await sandbox.Agent.Client.ListInterfacesAsync(new Empty(), deadline: sandbox.Agent.Deadline, cancellationToken: timeout.Token);
            var eth0 = Assert.Single(interfaces.Interfaces_, i => i.Name == "eth0");
            Assert.Equal(pod.PodMac, eth0.HwAddr.ToLowerInvariant());
            Assert.True(eth0.Up);
            Assert.Contains(eth0.Addresses, a => $"{a.Address}/{a.PrefixLength}" == pod.PodCidr);
            Assert.Contains(eth0.Addresses, a => a.Family == IpFamily.Ipv6 && $"{a.Address}/{a.PrefixLength}" == Ipv6Cidr);
            var routes = await sandbox.Agent.Client.ListRoutesAsync(new Empty(), deadline: sandbox.Agent.Deadline, cancellationToken: timeout.Token);
            Assert.Contains(routes.Routes_, r => r.Destination.Length == 0 && r.Gateway == pod.Gateway);

            // The CNI side pings the VM.
            var ping = await HostCommand.InNetnsAsync(pod.NodePath, "busybox", "ping", "-c", "3", "-W", "5", pod.PodIp);
            Assert.True(ping.ExitCode == 0, $"ping {pod.PodIp} from the node namespace: {ping}");

            // A container sees the same network (it shares the VM's), and the resolv.conf the pod was given: containerd's
            // CRI writes it on the host from the pod's DNS config and bind-mounts it into every container, as here.
            var resolvConf = Path.Combine(TestEnvironment.NewWorkDirectory("pod-dns"), "resolv.conf");
            File.WriteAllText(resolvConf, new HostDns([Dns], ["pod.test"], []).Render());
            var (exit, output) = await RunAsync(sandbox, "look", ["sh", "-c", "ip addr show eth0; ip neigh show dev eth0; cat /etc/resolv.conf"],
                spec => DefaultSpec.AddBindMount(spec, resolvConf, "/etc/resolv.conf", readOnly: true), timeout.Token);
            Directory.Delete(Path.GetDirectoryName(resolvConf)!, recursive: true);
            Assert.True(exit == 0, output);
            Assert.Contains($"inet {pod.PodCidr}", output, StringComparison.Ordinal);
            Assert.Contains(pod.PodMac, output, StringComparison.OrdinalIgnoreCase);
            // busybox ip: "10.214.9.77 lladdr 02:00:00:00:00:77 used 0/0/0 probes 0 PERMANENT".
            Assert.Matches($@"{Regex.Escape(StaticNeighbor)} lladdr {StaticNeighborMac} .*PERMANENT", output);
            Assert.Contains($"nameserver {Dns}", output, StringComparison.Ordinal);
            Assert.Contains("search pod.test", output, StringComparison.Ordinal);

            // HTTP from busybox httpd in a container, fetched from the CNI side.
            var page = $"hello from the pod {Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}";
            await using var httpd = await StartAsync(sandbox, "httpd", ["httpd", "-f", "-p", "8080", "-h", "/www"],
                null, timeout.Token, rootfs => { Directory.CreateDirectory(Path.Combine(rootfs, "www")); File.WriteAllText(Path.Combine(rootfs, "www", "index.html"), page); });
            HostCommandResult? fetched = null;
            for (var attempt = 0; attempt < 30 && fetched?.ExitCode != 0; attempt++)
            {
                if (attempt > 0)
                {
                    await Task.Delay(500, timeout.Token);
                }

                fetched = await HostCommand.InNetnsAsync(pod.NodePath, "wget", "-q", "-O-", "-T", "5", "-t", "1", $"http://{pod.PodIp}:8080/");
            }

            Assert.True(fetched!.ExitCode == 0, $"wget from the node namespace: {fetched}");
            Assert.Equal(page, fetched.Stdout.Trim());
        }
        finally
        {
            await sandbox.DestroyAsync(CancellationToken.None);
        }

        // The sandbox took back its taps, qdiscs and filters, and left CNI's veth and address for CNI DEL.
        Assert.Empty(await NetworkLeftovers.InNamespaceAsync(pod.PodPath));
        var addresses = await HostCommand.InNetnsAsync(pod.PodPath, "ip", "-o", "addr", "show", "dev", "eth0");
        Assert.Contains(pod.PodCidr, addresses.Stdout, StringComparison.Ordinal);
        Assert.False(Directory.Exists(sandbox.Paths.Directory));
    }

    /// <summary>"net:[inode]": what /proc/PID/ns/net links to, or the inode of a bind-mounted netns file.</summary>
    private static string ResolveLink(string path) => new FileInfo(path).LinkTarget ?? InodeOf(path);

    /// <summary>A bind-mounted netns file is no symlink; compare it by what stat says instead.</summary>
    private static string InodeOf(string path)
    {
        var stat = HostCommand.RunAsync("stat", "-L", "-c", "net:[%i]", path).GetAwaiter().GetResult();
        return stat.Stdout.Trim();
    }

    private static async Task<TestContainerRun> StartAsync(Sandbox sandbox, string name, IReadOnlyList<string> args, Action<JsonObject>? edit,
        CancellationToken cancellationToken, Action<string>? prepare = null)
    {
        var id = $"{name}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3))}";
        var rootfs = await BusyboxRootfs.CopyAsync(id);
        prepare?.Invoke(rootfs);
        var spec = DefaultSpec.Create(new SpecOptions { Args = args, Hostname = name });
        edit?.Invoke(spec);
        var container = await sandbox.CreateContainerAsync(new ContainerOptions
        {
            Id = id,
            Spec = spec,
            RootfsDirectory = rootfs,
        }, cancellationToken);
        var stdout = new MemoryStream();
        var stderr = new MemoryStream();
        var pumps = Task.WhenAll(
            container.Init.PumpOutputAsync(OutputStream.Stdout, stdout, null, cancellationToken),
            container.Init.PumpOutputAsync(OutputStream.Stderr, stderr, null, cancellationToken));
        await container.StartAsync(cancellationToken);
        return new TestContainerRun(container, stdout, stderr, pumps, rootfs);
    }

    private static async Task<(int Exit, string Output)> RunAsync(Sandbox sandbox, string name, IReadOnlyList<string> args, Action<JsonObject>? edit, CancellationToken cancellationToken)
    {
        await using var run = await StartAsync(sandbox, name, args, edit, cancellationToken);
        var exit = await run.Container.Init.WaitAsync(cancellationToken);
        await run.Pumps.WaitAsync(cancellationToken);
        return (exit.ExitCode, run.Text);
    }

    /// <summary>A started container with its output; read <see cref="Text"/> only once <see cref="Pumps"/> is done.</summary>
    private sealed class TestContainerRun(Container container, MemoryStream stdout, MemoryStream stderr, Task pumps, string rootfs) : IAsyncDisposable
    {
        public Container Container { get; } = container;
        public Task Pumps { get; } = pumps;

        public string Text => System.Text.Encoding.UTF8.GetString(stdout.ToArray()) + System.Text.Encoding.UTF8.GetString(stderr.ToArray());

        public async ValueTask DisposeAsync()
        {
            using var timeout = new CancellationTokenSource(TestEnvironment.OperationTimeout);
            await Container.RemoveAsync(timeout.Token);
            Directory.Delete(Path.GetDirectoryName(rootfs)!, recursive: true);
        }
    }
}

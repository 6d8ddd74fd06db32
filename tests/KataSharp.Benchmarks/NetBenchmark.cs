using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using KataSharp.Runtime.Configuration;
using KataSharp.Runtime.Images;
using KataSharp.Runtime.Network;
using KataSharp.Runtime.Sandbox;
using Microsoft.Extensions.Logging.Abstractions;

namespace KataSharp.Benchmarks;

/// <summary>
/// What the network costs: (a) the host side of a <c>katasharp run</c> network (netns, veth, NAT, tap and tc
/// mirror) set up and torn down, and the tc mirror alone in an existing namespace, as a CNI pod gets it;
/// (b) with one VM, ping round trips and HTTP throughput from the host to busybox httpd in a container, through
/// veth, mirred and tap, against (c) the same fetch from busybox httpd running directly behind a plain veth, with
/// the ratio (b)/(c). All traffic goes to namespaces this benchmark creates on this machine.
/// </summary>
internal static class NetBenchmark
{
    private const int Rounds = 20;
    private const int Fetches = 3;
    private const int BlobMiB = 32;
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(180);

    public static async Task RunAsync(string build)
    {
        build = Path.GetFullPath(build);
        var kernel = Path.Combine(build, "guest", "vmlinux");
        var initrd = Path.Combine(build, "guest", "initrd.img");
        var image = Path.Combine(build, "images", "busybox.oci.tar");
        foreach (var file in new[] { kernel, initrd, image })
        {
            if (!File.Exists(file))
            {
                throw new FileNotFoundException($"{file} is missing; run ./build.sh build && ./build.sh image", file);
            }
        }

        var work = Directory.CreateTempSubdirectory("ks-bench-net-").FullName;
        var stateDir = $"/run/katasharp-bench-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}";
        var config = ConfigLoader.Parse($"""
            hypervisor:
              {PrivateSandbox.GuestKeys(build)}
            runtime:
              stateDir: "{stateDir}"
            """, "net-benchmark");
        Console.WriteLine($"net benchmark: {Rounds} host-side rounds, {Fetches} fetches of {BlobMiB} MiB, {Environment.ProcessorCount} host CPUs");
        try
        {
            await MeasureHostSideAsync(Path.Combine(stateDir, "sandboxes"));
            var blob = Path.Combine(work, "www", "blob");
            Directory.CreateDirectory(Path.GetDirectoryName(blob)!);
            await File.WriteAllBytesAsync(blob, RandomNumberGenerator.GetBytes(BlobMiB << 20));
            var vm = await MeasureVmAsync(config, image, blob);
            var plain = await MeasurePlainVethAsync(Path.GetDirectoryName(blob)!);
            Console.WriteLine($"(b) host -> VM container httpd (veth, mirred, tap, virtio-net): median {vm,8:F1} MiB/s");
            Console.WriteLine($"(c) host -> httpd behind a plain veth (no VM):                  median {plain,8:F1} MiB/s");
            Console.WriteLine($"    ratio (b)/(c):                                                     {vm / plain,8:F3}x");
        }
        finally
        {
            if (Directory.Exists(stateDir))
            {
                Directory.Delete(stateDir, recursive: true);
            }

            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>(a): NAT network attach and teardown, then the tc mirror alone in one namespace.</summary>
    private static async Task MeasureHostSideAsync(string sandboxes)
    {
        var networking = new SandboxNetworking(NullLogger.Instance);
        var attach = new List<double>();
        var teardown = new List<double>();
        for (var i = 0; i < Rounds; i++)
        {
            var id = $"bench-net-{i}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(2))}";
            var dir = Directory.CreateDirectory(Path.Combine(sandboxes, id)).FullName;
            var clock = Stopwatch.StartNew();
            await networking.AttachAsync(SandboxNetworkRequest.Nat, id, dir, CancellationToken.None);
            attach.Add(clock.Elapsed.TotalMilliseconds);
            clock.Restart();
            await networking.TeardownAsync(dir, CancellationToken.None);
            teardown.Add(clock.Elapsed.TotalMilliseconds);
            Directory.Delete(dir);
        }

        Print("(a) katasharp run network (netns, veth, NAT, tap, tc) set-up", attach);
        Print("    ... and tear-down", teardown);

        // The pod case: only the mirror, in a namespace someone else made (here: a veth whose peer stays in ours).
        var netns = $"ks-bench-pod-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(2))}";
        await Checked("ip", "netns", "add", netns);
        try
        {
            await Checked("ip", "link", "add", "ksbenchpeer", "type", "veth", "peer", "name", "eth0", "netns", netns);
            await Checked("ip", "-n", netns, "link", "set", "eth0", "up");
            var sandbox = Directory.CreateTempSubdirectory("ks-bench-mirror-").FullName;
            var mirrorAttach = new List<double>();
            var mirrorDetach = new List<double>();
            for (var i = 0; i < Rounds; i++)
            {
                var clock = Stopwatch.StartNew();
                await networking.AttachAsync(SandboxNetworkRequest.PodNamespace(Path.Combine(NatNetworkPlan.IpNetnsDirectory, netns)), "bench", sandbox, CancellationToken.None);
                mirrorAttach.Add(clock.Elapsed.TotalMilliseconds);
                clock.Restart();
                await networking.TeardownAsync(sandbox, CancellationToken.None);
                mirrorDetach.Add(clock.Elapsed.TotalMilliseconds);
            }

            Directory.Delete(sandbox, recursive: true);
            Print("    tc mirror in a CNI namespace: attach (scan, tap, qdiscs, filters)", mirrorAttach);
            Print("    ... and detach", mirrorDetach);
        }
        finally
        {
            await Run("ip", "link", "del", "ksbenchpeer");
            await Run("ip", "netns", "del", netns);
        }
    }

    /// <summary>(b): one sandbox on its NAT network with busybox httpd in a container; ping and fetch from the host.</summary>
    private static async Task<double> MeasureVmAsync(KataSharpConfig config, string image, string blob)
    {
        var manager = new SandboxManager(config, NullLoggerFactory.Instance);
        var id = "bench-net-vm-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3));
        using var timeout = new CancellationTokenSource(Guard);
        await using var sandbox = await manager.CreateAsync(new SandboxOptions
        {
            Id = id,
            Network = SandboxNetworkRequest.Nat,
            WhileBooting = (paths, ct) => new OciImageUnpacker(NullLogger.Instance).UnpackAsync(image, paths.Rootfs(id), ct),
        }, timeout.Token);
        var rootfs = sandbox.Paths.Rootfs(id);
        Directory.CreateDirectory(Path.Combine(rootfs, "www"));
        File.Copy(blob, Path.Combine(rootfs, "www", "blob"));
        var container = await sandbox.CreateContainerAsync(new ContainerOptions
        {
            Id = id,
            Spec = DefaultSpec.Create(new SpecOptions { Args = ["httpd", "-f", "-p", "8080", "-h", "/www"] }),
            RootfsDirectory = rootfs,
            Stdout = false,
            Stderr = false,
        }, timeout.Token);
        await container.StartAsync(timeout.Token);
        var guest = sandbox.Network!.GuestAddress!.Split('/')[0];

        var ping = await Run("busybox", "ping", "-c", "20", "-i", "0.2", guest);
        var summary = ping.Stdout.Split('\n').FirstOrDefault(l => l.Contains("min/avg/max", StringComparison.Ordinal)) ?? ping.Stdout;
        Console.WriteLine($"(b) ping host -> VM ({guest}), 20 packets: {summary.Trim()}");
        return await FetchAsync($"http://{guest}:8080/blob", null);
    }

    /// <summary>(c): busybox httpd on the host side of things, in a namespace behind a plain veth: the same path without the VM.</summary>
    private static async Task<double> MeasurePlainVethAsync(string www)
    {
        var netns = $"ks-bench-plain-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(2))}";
        await Checked("ip", "netns", "add", netns);
        Process? httpd = null;
        try
        {
            await Checked("ip", "link", "add", "ksbenchplain", "type", "veth", "peer", "name", "eth0", "netns", netns);
            await Checked("ip", "addr", "add", "10.213.255.253/30", "dev", "ksbenchplain");
            await Checked("ip", "link", "set", "ksbenchplain", "up");
            await Checked("ip", "-n", netns, "addr", "add", "10.213.255.254/30", "dev", "eth0");
            await Checked("ip", "-n", netns, "link", "set", "eth0", "up");
            await Checked("ip", "-n", netns, "link", "set", "lo", "up");
            httpd = Process.Start(new ProcessStartInfo("nsenter", [$"--net=/var/run/netns/{netns}", "--", "busybox", "httpd", "-f", "-p", "8080", "-h", www]))!;
            return await FetchAsync("http://10.213.255.254:8080/blob", null);
        }
        finally
        {
            httpd?.Kill(entireProcessTree: true);
            await Run("ip", "link", "del", "ksbenchplain");
            await Run("ip", "netns", "del", netns);
        }
    }

    /// <summary>Fetches <paramref name="url"/> <see cref="Fetches"/> times after one warm-up that also waits for the server; the median MiB/s.</summary>
    private static async Task<double> FetchAsync(string url, string? netns)
    {
        var deadline = Stopwatch.StartNew();
        string[] Wget() => netns is null
            ? ["wget", "-q", "-O", "/dev/null", "-T", "30", "-t", "1", url]
            : ["nsenter", $"--net={netns}", "--", "wget", "-q", "-O", "/dev/null", "-T", "30", "-t", "1", url];
        while ((await Run(Wget())).ExitCode != 0)
        {
            if (deadline.Elapsed > Guard)
            {
                throw new TimeoutException($"{url} did not answer");
            }

            await Task.Delay(300);
        }

        var rates = new List<double>();
        for (var i = 0; i < Fetches; i++)
        {
            var clock = Stopwatch.StartNew();
            var result = await Run(Wget());
            if (result.ExitCode != 0)
            {
                throw new InvalidOperationException($"wget {url}: {result.Stderr}");
            }

            rates.Add(BlobMiB / clock.Elapsed.TotalSeconds);
        }

        rates.Sort();
        return rates[rates.Count / 2];
    }

    private static void Print(string what, List<double> samples)
    {
        samples.Sort();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{what}: median {Stats.Percentile(samples, 50),6:F0} ms   p90 {Stats.Percentile(samples, 90),6:F0} ms   min {samples[0],6:F0} ms"));
    }

    private static async Task Checked(params string[] argv)
    {
        var result = await Run(argv);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"{string.Join(' ', argv)}: {result.Stderr}");
        }
    }

    private static async Task<(int ExitCode, string Stdout, string Stderr)> Run(params string[] argv)
    {
        var start = new ProcessStartInfo(argv[0]) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in argv.Skip(1))
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(Guard);
        return (process.ExitCode, await stdout, await stderr);
    }
}

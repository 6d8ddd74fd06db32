using System.Globalization;
using System.Text.RegularExpressions;
using KataSharp.Protocol.Cri.V1;
using KataSharp.Tests.EndToEnd;

namespace KataSharp.Benchmarks;

/// <summary>
/// Pod to pod through containerd's CRI and the CNI bridge: TCP throughput (busybox httpd to wget)
/// and ping round trips between two katasharp pods, and between two runc pods, with the ratios.
/// All traffic stays on the testbed's own bridge.
/// </summary>
internal static partial class PodNetworkBenchmark
{
    private const int Fetches = 3;
    private const int BlobMiB = 32;
    private static readonly TimeSpan CallTimeout = TimeSpan.FromMinutes(3);

    public static async Task RunAsync(string build)
    {
        Environment.SetEnvironmentVariable("KATASHARP_BUILD", build);
        await using var testbed = await ContainerdTestbed.StartAsync();
        using var cri = new CriClient(testbed.CriSocket);
        var results = new Dictionary<string, (double MiBps, double RttMs)>();
        foreach (var handler in new[] { "runc", "katasharp" })
        {
            results[handler] = await MeasureAsync(cri, handler);
        }

        var (runcTput, runcRtt) = results["runc"];
        var (kataTput, kataRtt) = results["katasharp"];
        Console.WriteLine($"pod to pod over the CNI bridge, {BlobMiB} MiB HTTP fetches (median of {Fetches}) and 20 pings:");
        Console.WriteLine($"  runc pods:       {runcTput,8:F1} MiB/s   rtt {runcRtt,7:F3} ms");
        Console.WriteLine($"  katasharp pods:  {kataTput,8:F1} MiB/s   rtt {kataRtt,7:F3} ms");
        Console.WriteLine($"  ratio katasharp/runc: throughput {kataTput / runcTput:F3}x, rtt {kataRtt / runcRtt:F1}x");
    }

    private static async Task<(double MiBps, double RttMs)> MeasureAsync(CriClient cri, string handler)
    {
        var pods = new List<string>();
        try
        {
            var (serverPod, _) = await StartPodAsync(cri, handler, "server", pods,
                "sh", "-c", $"mkdir -p /www && head -c {BlobMiB}m /dev/zero > /www/blob && exec httpd -f -p 8080 -h /www");
            var (_, client) = await StartPodAsync(cri, handler, "client", pods, "sleep", "100000");
            var ip = (await cri.Runtime.PodSandboxStatusAsync(new PodSandboxStatusRequest { PodSandboxId = serverPod }, deadline: Deadline)).Status.Network.Ip;

            var url = $"http://{ip}:8080/blob";
            var deadline = DateTime.UtcNow + CallTimeout;
            while ((await ExecAsync(cri, client, "wget", "-qO", "/dev/null", url)).ExitCode != 0)
            {
                if (DateTime.UtcNow > deadline)
                {
                    throw new TimeoutException($"{handler}: the server pod never answered on {url}");
                }

                await Task.Delay(500);
            }

            var rates = new List<double>();
            for (var i = 0; i < Fetches; i++)
            {
                // The pod's own clock times the transfer, so exec overhead is not counted.
                var run = await ExecAsync(cri, client, "sh", "-c", $"a=$(cut -d' ' -f1 /proc/uptime); wget -qO /dev/null {url}; b=$(cut -d' ' -f1 /proc/uptime); echo $a $b");
                var parts = run.Stdout.ToStringUtf8().Trim().Split(' ');
                var seconds = double.Parse(parts[1], CultureInfo.InvariantCulture) - double.Parse(parts[0], CultureInfo.InvariantCulture);
                rates.Add(BlobMiB / Math.Max(seconds, 0.01));
            }

            var ping = await ExecAsync(cri, client, "ping", "-c", "20", "-i", "0.2", ip);
            var match = RoundTrip().Match(ping.Stdout.ToStringUtf8());
            var rtt = match.Success ? double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) : double.NaN;
            return (rates.Order().ElementAt(rates.Count / 2), rtt);
        }
        finally
        {
            foreach (var pod in pods)
            {
                await cri.Runtime.StopPodSandboxAsync(new StopPodSandboxRequest { PodSandboxId = pod }, deadline: Deadline);
                await cri.Runtime.RemovePodSandboxAsync(new RemovePodSandboxRequest { PodSandboxId = pod }, deadline: Deadline);
            }
        }
    }

    private static async Task<(string Pod, string Container)> StartPodAsync(CriClient cri, string handler, string name, List<string> pods, params string[] command)
    {
        var pod = new PodSandboxConfig
        {
            Metadata = new PodSandboxMetadata { Name = $"net-{handler}-{name}", Uid = Guid.NewGuid().ToString("N"), Namespace = "bench" },
            LogDirectory = Directory.CreateTempSubdirectory("ks-bench-net").FullName,
            Linux = new LinuxPodSandboxConfig(),
        };
        var podId = (await cri.Runtime.RunPodSandboxAsync(new RunPodSandboxRequest { Config = pod, RuntimeHandler = handler }, deadline: Deadline)).PodSandboxId;
        pods.Add(podId);
        var container = (await cri.Runtime.CreateContainerAsync(new CreateContainerRequest
        {
            PodSandboxId = podId,
            SandboxConfig = pod,
            Config = new ContainerConfig
            {
                Metadata = new ContainerMetadata { Name = name },
                Image = new ImageSpec { Image = BuildArtifacts.BusyboxRef },
                Command = { command },
                LogPath = $"{name}.log",
            },
        }, deadline: Deadline)).ContainerId;
        await cri.Runtime.StartContainerAsync(new StartContainerRequest { ContainerId = container }, deadline: Deadline);
        return (podId, container);
    }

    private static async Task<ExecSyncResponse> ExecAsync(CriClient cri, string container, params string[] cmd) =>
        await cri.Runtime.ExecSyncAsync(new ExecSyncRequest { ContainerId = container, Cmd = { cmd }, Timeout = 120 }, deadline: Deadline);

    private static DateTime Deadline => DateTime.UtcNow + CallTimeout;

    [GeneratedRegex(@"round-trip min/avg/max = [\d.]+/([\d.]+)/")]
    private static partial Regex RoundTrip();
}

using System.Diagnostics;
using System.Text.RegularExpressions;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace KataSharp.Tests.EndToEnd;

/// <summary>
/// Issue 13's logs and metrics as an operator meets them: one detached container through ctr; containerd's
/// own log holds the shim's logfmt lines (wall-clock time, level, the sandbox) and the agent's relayed ones
/// (source=agent); <c>katasharp monitor</c> serves the pod's metric families with its sandbox label, in a
/// form promtool accepts. On both containerd releases: 1.6 and 2.x copy the shim's log FIFO each in their own code.
/// </summary>
public abstract partial class ObservabilityTests
{
    private const string Runtime = "io.containerd.katasharp.v2";
    private static readonly TimeSpan VmTimeout = TimeSpan.FromMinutes(2);

    private static readonly string[] PodFamilies =
    [
        "katasharp_sandbox_boot_seconds",
        "katasharp_vmm_cpu_seconds_total",
        "katasharp_vmm_rss_bytes",
        "katasharp_vmm_pss_bytes",
        "katasharp_guest_memory_bytes",
        "katasharp_container_cpu_seconds_total",
        "katasharp_container_memory_usage_bytes",
        "katasharp_container_pids",
        "katasharp_agent_rpc_requests_total",
        "katasharp_agent_rpc_duration_seconds_count",
        "katasharp_monitor_scrape_up",
    ];

    private readonly ContainerdFixture _containerd;
    private readonly ITestOutputHelper _output;

    protected ObservabilityTests(ContainerdFixture containerd, ITestOutputHelper output)
    {
        _containerd = containerd;
        _output = output;
    }

    internal static string Promtool => Path.Combine(BuildArtifacts.Directory, "promtool", "usr", "bin", "promtool");

    [ObservabilityFact]
    public async Task APod_IsInContainerdsLog_WithItsAgentsLines_AndInTheMonitorsMetrics()
    {
        var id = $"obs-{Guid.NewGuid():N}"[..12];
        var (code, _, stderr) = await _containerd.Daemon.CtrAsync(["run", "-d", "--runtime", Runtime, BuildArtifacts.BusyboxRef, id, "sleep", "1000"], VmTimeout);
        Assert.True(code == 0, stderr);
        Process? monitor = null;
        try
        {
            monitor = Process.Start(new ProcessStartInfo(Path.Combine(BuildArtifacts.Bin, "katasharp"), ["--config", _containerd.ConfigPath, "monitor", "--listen", "127.0.0.1:0"])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            })!;
            using var read = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            var url = await monitor.StandardOutput.ReadLineAsync(read.Token) ?? throw new InvalidOperationException("katasharp monitor printed no address: " + await monitor.StandardError.ReadToEndAsync());

            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
            var metrics = "";
            var complete = await HostResources.EventuallyAsync(() =>
            {
                metrics = http.GetStringAsync(new Uri(url)).Result;
                return PodFamilies.All(f => metrics.Contains($"{f}{{sandbox=\"{id}\"", StringComparison.Ordinal));
            }, VmTimeout);
            Assert.True(complete, $"families missing for sandbox {id}: {string.Join(", ", PodFamilies.Where(f => !metrics.Contains($"{f}{{sandbox=\"{id}\"", StringComparison.Ordinal)))}\n{metrics}");
            Assert.Contains($"katasharp_container_pids{{sandbox=\"{id}\",container=\"{id}\"}}", metrics);
            Assert.Contains($"katasharp_monitor_scrape_up{{sandbox=\"{id}\"}} 1", metrics);

            var check = Process.Start(new ProcessStartInfo(Promtool, ["check", "metrics"]) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true })!;
            await check.StandardInput.WriteAsync(metrics);
            check.StandardInput.Close();
            using var checkTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            var lint = await check.StandardOutput.ReadToEndAsync(checkTimeout.Token) + await check.StandardError.ReadToEndAsync(checkTimeout.Token);
            await check.WaitForExitAsync(checkTimeout.Token);
            Assert.True(check.ExitCode == 0, "promtool check metrics: " + lint);

            string[] ours = [];
            var logged = await HostResources.EventuallyAsync(() =>
            {
                ours = _containerd.Daemon.Log.Split('\n').Where(l => l.Contains($"sandbox={id} ", StringComparison.Ordinal)).ToArray();
                return ours.Any(l => l.Contains("source=agent", StringComparison.Ordinal)) && ours.Any(l => ShimLine().IsMatch(l));
            }, VmTimeout);
            foreach (var line in ours.Take(15))
            {
                _output.WriteLine(line);
            }

            Assert.True(logged, $"containerd's log lacks a shim line with time, level and sandbox={id}, or an agent line (source=agent):\n" + string.Join('\n', ours.TakeLast(20)));
            var time = DateTimeOffset.Parse(ShimLine().Match(ours.First(l => ShimLine().IsMatch(l))).Groups["time"].Value, System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(Math.Abs((DateTimeOffset.UtcNow - time).TotalHours) < 1, $"the shim's time {time:O} is not wall-clock time");
        }
        finally
        {
            if (monitor is not null)
            {
                monitor.Kill();
                await monitor.WaitForExitAsync();
                monitor.Dispose();
            }

            await _containerd.Daemon.CtrAsync(["task", "kill", "-s", "SIGKILL", id], VmTimeout);
            await HostResources.EventuallyAsync(() => !_containerd.Daemon.CtrAsync(["task", "ls"], VmTimeout).Result.Stdout.Contains(id + " ", StringComparison.Ordinal)
                || _containerd.Daemon.CtrAsync(["task", "delete", id], VmTimeout).Result.ExitCode == 0, VmTimeout);
            await _containerd.Daemon.CtrAsync(["task", "delete", "-f", id], VmTimeout);
            await _containerd.Daemon.CtrAsync(["container", "rm", id], VmTimeout);
        }

        await CriTests.AssertNothingLeftAsync(_containerd, "");
    }

    [GeneratedRegex(@"time=(?<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z) level=(trace|debug|info|warning|error) msg=")]
    private static partial Regex ShimLine();
}

/// <summary>A <see cref="ContainerdFactAttribute"/> that also needs promtool, which <c>./build.sh deps</c> unpacks.</summary>
[XunitTestCaseDiscoverer("KataSharp.Tests.EndToEnd.ObservabilityFactDiscoverer", "KataSharp.Tests.EndToEnd")]
[AttributeUsage(AttributeTargets.Method)]
public sealed class ObservabilityFactAttribute : FactAttribute;

public sealed class ObservabilityFactDiscoverer(IMessageSink diagnosticMessageSink) : IXunitTestCaseDiscoverer
{
    public IEnumerable<IXunitTestCase> Discover(ITestFrameworkDiscoveryOptions discoveryOptions, ITestMethod testMethod, IAttributeInfo factAttribute) =>
        File.Exists(ObservabilityTests.Promtool)
            ? new ContainerdFactDiscoverer(diagnosticMessageSink).Discover(discoveryOptions, testMethod, factAttribute)
            : [new SkippedContainerdTestCase($"no promtool at {ObservabilityTests.Promtool}: run ./build.sh deps (it unpacks Debian's prometheus package)",
                diagnosticMessageSink, discoveryOptions.MethodDisplayOrDefault(), discoveryOptions.MethodDisplayOptionsOrDefault(), testMethod)];
}

[Collection(KataSharpContainerdCollection.Name)]
public sealed class ObservabilityTestsOnContainerd16(KataSharpContainerd containerd, ITestOutputHelper output) : ObservabilityTests(containerd, output);

[Collection(KataSharpContainerd2Collection.Name)]
public sealed class ObservabilityTestsOnContainerd2(KataSharpContainerd2 containerd, ITestOutputHelper output) : ObservabilityTests(containerd, output);

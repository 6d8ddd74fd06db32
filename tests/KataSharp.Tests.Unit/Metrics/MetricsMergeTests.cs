using System.Net.Sockets;
using KataSharp.Runtime.Metrics;
using KataSharp.Runtime.Sandbox;

namespace KataSharp.Tests.Unit.Metrics;

public sealed class MetricsMergeTests
{
    private static string Shim(double cpu, string container) => new MetricsText()
        .Family("katasharp_vmm_cpu_seconds_total", MetricType.Counter, "CPU.")
        .Sample("katasharp_vmm_cpu_seconds_total", cpu)
        .Family("katasharp_container_pids", MetricType.Gauge, "Pids.")
        .Sample("katasharp_container_pids", 2, ("container", container))
        .ToString();

    [Theory]
    [InlineData("m 1", "m{sandbox=\"p\"} 1")]
    [InlineData("m{a=\"b\"} 1", "m{sandbox=\"p\",a=\"b\"} 1")]
    [InlineData("m{} 1", "m{sandbox=\"p\"} 1")]
    [InlineData("m{a=\"x y\"} 1", "m{sandbox=\"p\",a=\"x y\"} 1")]
    public void ASample_GetsItsSandboxLabelFirst(string sample, string expected) => Assert.Equal(expected, MetricsMerge.WithSandbox(sample, "p"));

    [Fact]
    public void TwoShims_MergeIntoOneFamilyEach_WithEverySampleLabelled()
    {
        var merged = MetricsMerge.Merge([new ShimScrape("pod-b", Shim(2, "c2"), null), new ShimScrape("pod-a", Shim(1, "c1"), null), new ShimScrape("pod-c", null, "timed out")]);
        var lines = merged.Split('\n', StringSplitOptions.RemoveEmptyEntries);

        Assert.Single(lines, l => l == "# TYPE katasharp_vmm_cpu_seconds_total counter");
        Assert.Single(lines, l => l == "# HELP katasharp_container_pids Pids.");
        var cpu = Array.IndexOf(lines, "# TYPE katasharp_vmm_cpu_seconds_total counter");
        Assert.Equal(["katasharp_vmm_cpu_seconds_total{sandbox=\"pod-a\"} 1", "katasharp_vmm_cpu_seconds_total{sandbox=\"pod-b\"} 2"], lines[(cpu + 1)..(cpu + 3)]);
        Assert.Contains("katasharp_container_pids{sandbox=\"pod-b\",container=\"c2\"} 2", lines);
        Assert.Contains("katasharp_monitor_scrape_up{sandbox=\"pod-a\"} 1", lines);
        Assert.Contains("katasharp_monitor_scrape_up{sandbox=\"pod-c\"} 0", lines);
    }

    [Fact]
    public async Task TheMonitor_ScrapesLiveShims_SkipsDeadOnes_AndReportsOnesThatDoNotAnswer()
    {
        var state = Directory.CreateTempSubdirectory("monitor");
        using var stop = new CancellationTokenSource();
        var sockets = new List<Socket>();
        try
        {
            Socket Listen(string id)
            {
                var paths = SandboxPaths.For(state.FullName, id);
                Directory.CreateDirectory(paths.Directory);
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                socket.Bind(new UnixDomainSocketEndPoint(paths.MonitorSocket));
                socket.Listen(4);
                sockets.Add(socket);
                return socket;
            }

            _ = MetricsHttp.ServeAsync(Listen("live"), _ => Task.FromResult(Shim(7, "app")), null, stop.Token);
            // Accepts nothing and answers nothing: a hung shim.
            Listen("hung");
            // A socket file whose listener is gone: a dead shim.
            Listen("dead").Dispose();
            Directory.CreateDirectory(SandboxPaths.For(state.FullName, "no-socket").Directory);

            var merged = await new NodeMonitor(state.FullName, TimeSpan.FromMilliseconds(500)).CollectAsync(CancellationToken.None);

            Assert.Contains("katasharp_vmm_cpu_seconds_total{sandbox=\"live\"} 7\n", merged);
            Assert.Contains("katasharp_monitor_scrape_up{sandbox=\"live\"} 1\n", merged);
            Assert.Contains("katasharp_monitor_scrape_up{sandbox=\"hung\"} 0\n", merged);
            Assert.DoesNotContain("sandbox=\"dead\"", merged);
            Assert.DoesNotContain("sandbox=\"no-socket\"", merged);
        }
        finally
        {
            await stop.CancelAsync();
            sockets.ForEach(s => s.Dispose());
            state.Delete(true);
        }
    }

    [Fact]
    public async Task TheEndpoint_AnswersOnlyGetMetrics()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        listener.Listen(4);
        using var stop = new CancellationTokenSource();
        var serving = MetricsHttp.ServeAsync(listener, _ => Task.FromResult("m 1\n"), null, stop.Token);

        Assert.Equal("m 1\n", await MetricsHttp.GetAsync(listener.LocalEndPoint!, TimeSpan.FromSeconds(10), CancellationToken.None));
        using var other = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await other.ConnectAsync(listener.LocalEndPoint!);
        await other.SendAsync("GET /other HTTP/1.1\r\n\r\n"u8.ToArray());
        var buffer = new byte[256];
        var read = await other.ReceiveAsync(buffer);
        Assert.StartsWith("HTTP/1.1 404", System.Text.Encoding.ASCII.GetString(buffer, 0, read));

        await stop.CancelAsync();
        await serving;
    }
}

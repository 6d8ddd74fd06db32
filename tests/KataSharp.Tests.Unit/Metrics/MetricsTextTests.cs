using Grpc.Core;
using KataSharp.Runtime.Metrics;

namespace KataSharp.Tests.Unit.Metrics;

public sealed class MetricsTextTests
{
    [Fact]
    public void AFamily_IsHelpTypeThenSamples_WithEscapedLabels()
    {
        var text = new MetricsText()
            .Family("katasharp_x_bytes", MetricType.Gauge, "Some\nbytes.")
            .Sample("katasharp_x_bytes", 1.5, ("container", "a\"b\\c\nd"))
            .Sample("katasharp_x_bytes", double.PositiveInfinity)
            .ToString();

        Assert.Equal(
            "# HELP katasharp_x_bytes Some\\nbytes.\n# TYPE katasharp_x_bytes gauge\n"
            + "katasharp_x_bytes{container=\"a\\\"b\\\\c\\nd\"} 1.5\nkatasharp_x_bytes +Inf\n",
            text);
    }

    [Fact]
    public void AHistogram_HasCumulativeBuckets_InfSumAndCount()
    {
        var histogram = new LatencyHistogram([0.1, 1]);
        histogram.Observe(0.05);
        histogram.Observe(0.5);
        histogram.Observe(0.7);
        histogram.Observe(3);

        var lines = new MetricsText().Histogram("h", histogram.Snapshot(), ("method", "Check")).ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);

        Assert.Equal(
            [
                "h_bucket{method=\"Check\",le=\"0.1\"} 1",
                "h_bucket{method=\"Check\",le=\"1\"} 3",
                "h_bucket{method=\"Check\",le=\"+Inf\"} 4",
                "h_sum{method=\"Check\"} 4.25",
                "h_count{method=\"Check\"} 4",
            ],
            lines);
    }

    [Fact]
    public void AgentCalls_AreCountedByMethodAndCode_AndTimedByMethod()
    {
        var rpcs = new AgentRpcMetrics();
        rpcs.Observe("StatsContainer", StatusCode.OK, TimeSpan.FromMilliseconds(3));
        rpcs.Observe("StatsContainer", StatusCode.OK, TimeSpan.FromMilliseconds(4));
        rpcs.Observe("StatsContainer", StatusCode.NotFound, TimeSpan.FromMilliseconds(1));

        var text = new MetricsText();
        rpcs.WriteTo(text);
        var output = text.ToString();

        Assert.Contains("katasharp_agent_rpc_requests_total{method=\"StatsContainer\",code=\"OK\"} 2\n", output);
        Assert.Contains("katasharp_agent_rpc_requests_total{method=\"StatsContainer\",code=\"NotFound\"} 1\n", output);
        Assert.Contains("katasharp_agent_rpc_duration_seconds_count{method=\"StatsContainer\"} 3\n", output);
        Assert.Contains("# TYPE katasharp_agent_rpc_duration_seconds histogram\n", output);
    }

    [Fact]
    public void TheVmmsFootprint_IsReadFromStatAndSmapsRollup()
    {
        // utime 250 and stime 50 ticks (fields 14 and 15); the command name holds a space and a parenthesis.
        var stat = "4242 (qemu-system (x)) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 12345 1000000 200 18446744073709551615";
        var rollup = "55d0c0000000-7ffd00000000 ---p 00000000 00:00 0 [rollup]\nRss:              204800 kB\nPss:              102400 kB\nPss_Anon:          90000 kB\n";

        var footprint = ProcessFootprint.Parse(stat, rollup);

        Assert.Equal(3.0, footprint.CpuSeconds);
        Assert.Equal(204800L * 1024, footprint.RssBytes);
        Assert.Equal(102400L * 1024, footprint.PssBytes);
        Assert.Throws<FormatException>(() => ProcessFootprint.Parse("garbage", rollup));
    }

    [Fact]
    public void AGoneProcess_HasNoFootprint() => Assert.Null(ProcessFootprint.Read(int.MaxValue));
}

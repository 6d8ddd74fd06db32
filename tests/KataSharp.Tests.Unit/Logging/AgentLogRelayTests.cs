using KataSharp.Protocol.Logging;
using KataSharp.Runtime.Configuration;
using KataSharp.Shim.Logging;
using Microsoft.Extensions.Logging;

namespace KataSharp.Tests.Unit.Logging;

public sealed class AgentLogRelayTests
{
    [Fact]
    public void AnAgentLine_KeepsItsLevelAndFields_AndIsMarkedSourceAgent()
    {
        var (level, entry) = AgentLogRelay.Translate("time=2026-12-01T10:00:00.5Z level=warning msg=\"oom in c1\" container=c1 logger=KataSharp.Agent.Oom\r")!.Value;

        Assert.Equal(LogLevel.Warning, level);
        Assert.Equal("oom in c1", entry.Message);
        Assert.Equal(
            [new("source", "agent"), new("guest_time", "2026-12-01T10:00:00.5Z"), new("container", "c1"), new("logger", "KataSharp.Agent.Oom")],
            entry.ToList());
    }

    [Fact]
    public void AKernelLine_IsRelayedAtDebug_AsSourceConsole()
    {
        var (level, entry) = AgentLogRelay.Translate("[    1.234] virtio_blk virtio0: [vda] 2048 blocks")!.Value;
        Assert.Equal(LogLevel.Debug, level);
        Assert.Equal("[    1.234] virtio_blk virtio0: [vda] 2048 blocks", entry.Message);
        Assert.Equal([new("source", "console")], entry.ToList());
    }

    [Fact]
    public void AnEmptyLine_IsDropped() => Assert.Null(AgentLogRelay.Translate("\r"));

    [Fact]
    public async Task ARelay_FollowsTheConsoleFile_AsItGrows_IntoTheShimLog()
    {
        var dir = Directory.CreateTempSubdirectory("relay");
        try
        {
            var console = Path.Combine(dir.FullName, "console.log");
            var lines = new System.Collections.Concurrent.ConcurrentQueue<string>();
            using var loggers = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Trace)
                .AddProvider(new LogfmtLoggerProvider(lines.Enqueue, new LogLevelSwitch(LogLevel.Information), [new("sandbox", "pod1")])));
            await using (var relay = AgentLogRelay.Start(console, loggers.CreateLogger("KataSharp.Shim")))
            {
                await File.WriteAllTextAsync(console, "[    0.1] booting\r\ntime=2026-12-01T10:00:00Z level=info msg=\"agent up\" logger=KataSharp.Agent\r\n");
                Assert.True(await Eventually(() => lines.Any(l => l.Contains("agent up", StringComparison.Ordinal))));
                await File.AppendAllTextAsync(console, "time=2026-12-01T10:00:01Z level=error msg=later\n");
                Assert.True(await Eventually(() => lines.Any(l => l.Contains("msg=later", StringComparison.Ordinal))));
            }

            var up = Logfmt.Parse(lines.First(l => l.Contains("agent up", StringComparison.Ordinal)).TrimEnd('\n'))!.ToDictionary();
            Assert.Equal("agent", up["source"]);
            Assert.Equal("pod1", up["sandbox"]);
            Assert.Equal("info", up["level"]);
            Assert.Equal("KataSharp.Agent", up["logger"]);
            // The kernel's line is below the shim's level.
            Assert.DoesNotContain(lines, l => l.Contains("booting", StringComparison.Ordinal));
        }
        finally
        {
            dir.Delete(true);
        }
    }

    [Theory]
    [InlineData(false, LogLevel.Information, LogLevel.Information)]
    [InlineData(true, LogLevel.Information, LogLevel.Debug)]
    [InlineData(true, LogLevel.Trace, LogLevel.Trace)]
    [InlineData(false, LogLevel.Debug, LogLevel.Debug)]
    public void TheShimsLevel_IsContainerdsDebugFlag_OrTheConfigurations_WhicheverSaysMore(bool debugFlag, LogLevel configured, LogLevel expected)
    {
        var level = new LogLevelSwitch(debugFlag ? LogLevel.Debug : LogLevel.Information);
        var config = new ShimLogLevel(level, debugFlag).Apply(new KataSharpConfig { Log = new LogConfig { Level = configured } });
        Assert.Equal(expected, level.Minimum);
        Assert.Equal(expected, config.Log.Level);
    }

    private static async Task<bool> Eventually(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (!condition())
        {
            if (timeout.IsCancellationRequested)
            {
                return false;
            }

            await Task.Delay(20);
        }

        return true;
    }
}

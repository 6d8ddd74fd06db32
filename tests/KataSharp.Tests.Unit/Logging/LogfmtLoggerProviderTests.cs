using KataSharp.Protocol.Logging;
using Microsoft.Extensions.Logging;

namespace KataSharp.Tests.Unit.Logging;

public sealed partial class LogfmtLoggerProviderTests
{
    private static readonly DateTimeOffset Noon = new(2026, 12, 1, 12, 0, 0, 123, TimeSpan.FromHours(2));

    private readonly List<string> _lines = [];

    private ILoggerFactory Loggers(LogLevelSwitch level, params KeyValuePair<string, string>[] fields) =>
        LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Trace).AddProvider(new LogfmtLoggerProvider(_lines.Add, level, fields, new FixedTime(Noon))));

    private IReadOnlyList<KeyValuePair<string, string>> OnlyLine()
    {
        var line = Assert.Single(_lines);
        Assert.EndsWith("\n", line);
        Assert.DoesNotContain('\n', line[..^1]);
        return Logfmt.Parse(line.TrimEnd('\n')) ?? throw new Xunit.Sdk.XunitException("not logfmt: " + line);
    }

    private static string Field(IReadOnlyList<KeyValuePair<string, string>> pairs, string key) =>
        pairs.Single(p => p.Key == key).Value;

    [Fact]
    public void ALine_HasWallClockUtcTime_Level_Message_FixedFields_AndLogger()
    {
        using (var loggers = Loggers(new LogLevelSwitch(LogLevel.Information), new KeyValuePair<string, string>("sandbox", "pod1"), new KeyValuePair<string, string>("namespace", "k8s.io")))
        {
            LogServing(loggers.CreateLogger("KataSharp.Shim"), "/run/s.sock");
        }

        var pairs = OnlyLine();
        Assert.Equal(["time", "level", "msg", "sandbox", "namespace", "logger"], pairs.Select(p => p.Key));
        Assert.Equal("2026-12-01T10:00:00.123Z", Field(pairs, "time"));
        Assert.Equal(Noon, DateTimeOffset.Parse(Field(pairs, "time"), System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal("info", Field(pairs, "level"));
        Assert.Equal("serving on /run/s.sock", Field(pairs, "msg"));
        Assert.Equal("pod1", Field(pairs, "sandbox"));
        Assert.Equal("KataSharp.Shim", Field(pairs, "logger"));
    }

    [Fact]
    public void OpenScopes_AreCaptured_UnderShortIdNames_InnermostWinning()
    {
        using (var loggers = Loggers(new LogLevelSwitch(LogLevel.Information), new KeyValuePair<string, string>("sandbox", "from-args")))
        {
            var logger = loggers.CreateLogger("x");
            using (logger.BeginScope(new Dictionary<string, object> { ["SandboxId"] = "pod1" }))
            using (logger.BeginContainerScope("c1", "e1"))
            {
                LogServing(logger, "s");
            }
        }

        var pairs = OnlyLine();
        Assert.Equal("c1", Field(pairs, "container"));
        Assert.Equal("e1", Field(pairs, "exec"));
        // The fixed field comes first and is not repeated by the scope.
        Assert.Equal("from-args", Field(pairs, "sandbox"));
    }

    [Fact]
    public async Task AScope_EndsWithItsBlock_AndFlowsIntoTasksStartedInIt()
    {
        using var loggers = Loggers(new LogLevelSwitch(LogLevel.Information));
        var logger = loggers.CreateLogger("x");
        Task background;
        using (logger.BeginContainerScope("c1"))
        {
            background = Task.Run(() => LogServing(logger, "inside"));
        }

        await background;
        LogServing(logger, "outside");

        var inside = Logfmt.Parse(_lines.Single(l => l.Contains("inside", StringComparison.Ordinal)).TrimEnd('\n'))!;
        var outside = Logfmt.Parse(_lines.Single(l => l.Contains("outside", StringComparison.Ordinal)).TrimEnd('\n'))!;
        Assert.Equal("c1", Field(inside, "container"));
        Assert.DoesNotContain(outside, p => p.Key == "container");
    }

    [Fact]
    public void TheLevelSwitch_DecidesWhatIsWritten_WhileTheProcessRuns()
    {
        var level = new LogLevelSwitch(LogLevel.Information);
        using var loggers = Loggers(level);
        var logger = loggers.CreateLogger("x");

        logger.LogDebug("hidden");
        level.Minimum = LogLevel.Debug;
        logger.LogDebug("shown");

        Assert.Equal("debug", Field(OnlyLine(), "level"));
        Assert.Contains("shown", _lines[0]);
    }

    [Fact]
    public void AnException_IsOneField_OnTheSameLine()
    {
        using (var loggers = Loggers(new LogLevelSwitch(LogLevel.Information)))
        {
            LogFailed(loggers.CreateLogger("x"), new IOException("disk\ngone"));
        }

        var pairs = OnlyLine();
        Assert.Equal("error", Field(pairs, "level"));
        Assert.Equal("IOException: disk\ngone", Field(pairs, "error"));
    }

    [Theory]
    [InlineData("2026-12-01T10:00:00Z", 0)]
    [InlineData("2026-12-01T10:00:00.5Z", 5_000_000)]
    [InlineData("2026-12-01T10:00:00.0000001Z", 1)]
    public void Time_IsRfc3339NanoUtc_WithoutTrailingZeros(string expected, long ticks) =>
        Assert.Equal(expected, LogfmtLoggerProvider.FormatTime(new DateTimeOffset(2026, 12, 1, 10, 0, 0, TimeSpan.Zero).AddTicks(ticks)));

    [Theory]
    [InlineData("debug", LogLevel.Debug)]
    [InlineData("INFO", LogLevel.Information)]
    [InlineData("warn", LogLevel.Warning)]
    [InlineData("warning", LogLevel.Warning)]
    [InlineData("fatal", LogLevel.Critical)]
    [InlineData("loud", null)]
    [InlineData(null, null)]
    public void LevelNames_Parse(string? name, LogLevel? expected) => Assert.Equal(expected, LogLevelSwitch.Parse(name));

    [Fact]
    public void TheAgentsLevel_TravelsAsAKernelParameter_ThatItsEnvironmentReadsBack()
    {
        Assert.Equal("", AgentLogLevel.KernelParameter(LogLevel.Information));
        var parameter = AgentLogLevel.KernelParameter(LogLevel.Debug);
        var (name, value) = (parameter.Split('=')[0], parameter.Split('=')[1]);
        Assert.Equal(LogLevel.Debug, AgentLogLevel.FromEnvironment(v => v == name ? value : null));
        Assert.Equal(LogLevel.Information, AgentLogLevel.FromEnvironment(_ => null));
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "serving on {Socket}")]
    private static partial void LogServing(ILogger logger, string socket);

    [LoggerMessage(Level = LogLevel.Error, Message = "failed")]
    private static partial void LogFailed(ILogger logger, Exception exception);

    private sealed class FixedTime(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now.ToUniversalTime();
    }
}

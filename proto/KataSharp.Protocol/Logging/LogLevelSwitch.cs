using Microsoft.Extensions.Logging;

namespace KataSharp.Protocol.Logging;

/// <summary>
/// The least level a process logs, changeable while it runs: a shim learns its configuration's
/// <c>log.level</c> only from the first Create, long after its first lines.
/// </summary>
public sealed class LogLevelSwitch(LogLevel minimum)
{
    private volatile int _minimum = (int)minimum;

    public LogLevel Minimum
    {
        get => (LogLevel)_minimum;
        set => _minimum = (int)value;
    }

    public bool IsEnabled(LogLevel level) => level != LogLevel.None && level >= Minimum;

    /// <summary>
    /// The level a configuration or flag names: trace, debug, info, warn(ing), error; null for anything else.
    /// </summary>
    public static LogLevel? Parse(string? name) => name?.ToLowerInvariant() switch
    {
        "trace" => LogLevel.Trace,
        "debug" => LogLevel.Debug,
        "info" or "information" => LogLevel.Information,
        "warn" or "warning" => LogLevel.Warning,
        "error" => LogLevel.Error,
        "fatal" or "critical" => LogLevel.Critical,
        _ => null,
    };

    /// <summary>The name logfmt lines carry, as logrus (containerd) spells them.</summary>
    public static string Name(LogLevel level) => level switch
    {
        LogLevel.Trace => "trace",
        LogLevel.Debug => "debug",
        LogLevel.Information => "info",
        LogLevel.Warning => "warning",
        LogLevel.Error => "error",
        _ => "fatal",
    };
}

using KataSharp.Protocol.Logging;
using Microsoft.Extensions.Logging;

namespace KataSharp.Runtime.Logging;

/// <summary>The host processes' logging: logfmt on stderr, at a level that can change while they run.</summary>
public static class HostLogging
{
    /// <param name="fields">Fixed fields every line carries, such as the shim's sandbox and namespace.</param>
    public static ILoggerFactory Create(LogLevelSwitch level, IReadOnlyList<KeyValuePair<string, string>>? fields = null) =>
        LoggerFactory.Create(builder => builder
            // The switch decides; the factory's own floor must not hide what it lets through.
            .SetMinimumLevel(LogLevel.Trace)
            .AddProvider(new LogfmtLoggerProvider(StderrLines.Write, level, fields)));
}

using Microsoft.Extensions.Logging;

namespace KataSharp.Protocol.Logging;

/// <summary>The scopes that name what a log line is about, under the keys <see cref="LogfmtLoggerProvider"/> shortens.</summary>
public static class LogScope
{
    /// <summary>A container's scope, and its exec's when <paramref name="execId"/> is not empty.</summary>
    public static IDisposable? BeginContainerScope(this ILogger logger, string containerId, string? execId = null)
    {
        List<KeyValuePair<string, object>> fields = [new("ContainerId", containerId)];
        if (!string.IsNullOrEmpty(execId))
        {
            fields.Add(new("ExecId", execId));
        }

        return logger.BeginScope(fields);
    }
}

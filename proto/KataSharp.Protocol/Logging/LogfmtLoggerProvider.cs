using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;

namespace KataSharp.Protocol.Logging;

/// <summary>
/// Writes one logfmt line per entry, as containerd writes its own: <c>time</c> (RFC 3339, UTC, nanosecond
/// layout), <c>level</c>, <c>msg</c>, then the process's fixed fields (<c>sandbox=</c> for a shim), the open
/// scopes' key/values (<c>container=</c>, <c>exec=</c>), the fields of a structured entry, and the logger's
/// name. Synchronous: neither a CLI nor a shim may lose its last lines to a background writer when it exits.
/// </summary>
public sealed class LogfmtLoggerProvider : ILoggerProvider, ISupportExternalScope
{
    private const string TemplateKey = "{OriginalFormat}";

    private static readonly Dictionary<string, string> ScopeKeys = new(StringComparer.Ordinal)
    {
        ["SandboxId"] = "sandbox",
        ["ContainerId"] = "container",
        ["ExecId"] = "exec",
    };

    private readonly Action<string> _write;
    private readonly IReadOnlyList<KeyValuePair<string, string>> _fields;
    private readonly LogLevelSwitch _level;
    private readonly TimeProvider _time;
    private IExternalScopeProvider _scopes = new LoggerExternalScopeProvider();

    /// <param name="write">Takes one whole line, newline included.</param>
    /// <param name="fields">Written on every line, after msg.</param>
    public LogfmtLoggerProvider(Action<string> write, LogLevelSwitch level, IReadOnlyList<KeyValuePair<string, string>>? fields = null, TimeProvider? time = null)
    {
        _write = write;
        _level = level;
        _fields = fields ?? [];
        _time = time ?? TimeProvider.System;
    }

    /// <summary>The key a scope or state member is written under: the ids by their short names, others as they are.</summary>
    public static string FieldName(string key) => ScopeKeys.GetValueOrDefault(key) ?? key;

    /// <summary>RFC 3339 in UTC with nanosecond digits, as Go's time.RFC3339Nano (trailing zeros dropped).</summary>
    public static string FormatTime(DateTimeOffset time)
    {
        var text = time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff", CultureInfo.InvariantCulture).TrimEnd('0').TrimEnd('.');
        return text + "Z";
    }

    public ILogger CreateLogger(string categoryName) => new LogfmtLogger(this, categoryName);

    public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;

    public void Dispose()
    {
    }

    private void Write<TState>(string category, LogLevel level, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        var line = new StringBuilder(256);
        var written = new HashSet<string>(StringComparer.Ordinal) { "time", "level", "msg" };
        Logfmt.AppendPair(line, "time", FormatTime(_time.GetUtcNow()));
        Logfmt.AppendPair(line, "level", LogLevelSwitch.Name(level));
        Logfmt.AppendPair(line, "msg", formatter(state, exception));
        foreach (var (key, value) in _fields)
        {
            AppendOnce(line, written, key, value);
        }

        // Innermost scope first: an id a deeper scope names is the truer one.
        var scopes = new List<object?>();
        _scopes.ForEachScope(static (scope, list) => list.Add(scope), scopes);
        for (var i = scopes.Count - 1; i >= 0; i--)
        {
            if (scopes[i] is IEnumerable<KeyValuePair<string, object>> pairs)
            {
                foreach (var (key, value) in pairs)
                {
                    AppendOnce(line, written, FieldName(key), Text(value));
                }
            }
        }

        // A message template's arguments are already in msg; a structured entry (no template) carries its own fields.
        if (state is IReadOnlyList<KeyValuePair<string, object?>> members && !members.Any(static m => m.Key == TemplateKey))
        {
            foreach (var (key, value) in members)
            {
                AppendOnce(line, written, FieldName(key), Text(value));
            }
        }

        if (exception is not null)
        {
            Logfmt.AppendPair(line, "error", level <= LogLevel.Debug ? exception.ToString() : $"{exception.GetType().Name}: {exception.Message}");
        }

        AppendOnce(line, written, "logger", category);
        line.Append('\n');
        _write(line.ToString());
    }

    private static void AppendOnce(StringBuilder line, HashSet<string> written, string key, string? value)
    {
        if (written.Add(key))
        {
            Logfmt.AppendPair(line, key, value);
        }
    }

    private static string? Text(object? value) => value switch
    {
        null => null,
        IFormattable formattable => formattable.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString(),
    };

    private sealed class LogfmtLogger(LogfmtLoggerProvider provider, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => provider._scopes.Push(state);

        public bool IsEnabled(LogLevel logLevel) => provider._level.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                provider.Write(category, logLevel, state, exception, formatter);
            }
        }
    }
}

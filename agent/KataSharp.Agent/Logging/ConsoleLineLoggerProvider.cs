using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;

namespace KataSharp.Agent.Logging;

/// <summary>
/// Writes one line per log entry to stderr, which is /dev/console for PID 1 and so reaches the
/// host through the VM console. Deliberately not System.Console (its terminal set-up installs
/// signal handling the agent does not want) and not the Console logger package.
/// </summary>
internal sealed class ConsoleLineLoggerProvider : ILoggerProvider, ISupportExternalScope
{
    private readonly Stream _output;
    private readonly LogLevel _minimum;
    private readonly Lock _gate = new();
    private IExternalScopeProvider? _scopes;

    public ConsoleLineLoggerProvider(LogLevel minimum, Stream? output = null)
    {
        _minimum = minimum;
        _output = output ?? new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(2, ownsHandle: false), FileAccess.Write, 1);
    }

    public ILogger CreateLogger(string categoryName) => new LineLogger(this, ShortCategory(categoryName));

    public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;

    public void Dispose()
    {
    }

    private void Write(string line)
    {
        var bytes = Encoding.UTF8.GetBytes(line);
        lock (_gate)
        {
            try
            {
                _output.Write(bytes);
                _output.Flush();
            }
            catch (IOException)
            {
                // A console that cannot be written must not take the agent down.
            }
        }
    }

    private static string ShortCategory(string category)
    {
        var dot = category.LastIndexOf('.');
        return dot < 0 ? category : category[(dot + 1)..];
    }

    private static string LevelTag(LogLevel level) => level switch
    {
        LogLevel.Trace => "trce",
        LogLevel.Debug => "dbug",
        LogLevel.Information => "info",
        LogLevel.Warning => "warn",
        LogLevel.Error => "fail",
        LogLevel.Critical => "crit",
        _ => "none",
    };

    private sealed class LineLogger(ConsoleLineLoggerProvider provider, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => provider._scopes?.Push(state);

        public bool IsEnabled(LogLevel logLevel) => logLevel >= provider._minimum && logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
            {
                return;
            }

            var line = new StringBuilder();
            line.Append(DateTime.UtcNow.ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture))
                .Append(" katasharp-agent ").Append(LevelTag(logLevel)).Append(' ').Append(category).Append(": ");
            provider._scopes?.ForEachScope((scope, sb) => sb.Append('[').Append(scope).Append("] "), line);
            line.Append(formatter(state, exception).Replace('\n', ' '));
            if (exception is not null)
            {
                line.Append(" | ").Append(exception.GetType().Name).Append(": ").Append(exception.Message.Replace('\n', ' '));
            }

            line.Append('\n');
            provider.Write(line.ToString());
        }
    }
}

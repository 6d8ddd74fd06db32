using Microsoft.Extensions.Logging;

namespace KataSharp.Runtime.Logging;

/// <summary>
/// A CLI's messages for a person, on stderr (stdout belongs to the container's output), one plain line each:
/// "katasharp: warning: ...". With --verbose the CLI logs logfmt instead (<see cref="HostLogging"/>).
/// </summary>
public sealed class StderrLoggerProvider : ILoggerProvider
{
    private readonly string _program;

    public StderrLoggerProvider(string program = "katasharp") => _program = program;

    public ILogger CreateLogger(string categoryName) => new StderrLogger(this);

    public void Dispose()
    {
    }

    private void Write(LogLevel level, string message)
    {
        var label = level switch
        {
            LogLevel.Trace => "trace",
            LogLevel.Debug => "debug",
            LogLevel.Information => "info",
            LogLevel.Warning => "warning",
            LogLevel.Error => "error",
            _ => "critical",
        };
        StderrLines.Write($"{_program}: {label}: {message}\n");
    }

    private sealed class StderrLogger(StderrLoggerProvider provider) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                provider.Write(logLevel, formatter(state, exception));
            }
        }
    }
}

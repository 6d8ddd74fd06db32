using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace KataSharp.Cli.Console;

/// <summary>
/// Logs to stderr, synchronously, one line per message: stdout belongs to the container's output,
/// and a CLI must not lose its last messages to a background writer when it exits. Plain
/// "katasharp: warning: ..." by default; with --verbose, time since start and the category.
/// </summary>
internal sealed class StderrLoggerProvider : ILoggerProvider
{
    private static readonly object WriteLock = new();
    private readonly bool _verbose;
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    public StderrLoggerProvider(bool verbose) => _verbose = verbose;

    public ILogger CreateLogger(string categoryName) => new StderrLogger(this, categoryName);

    public void Dispose()
    {
    }

    internal void Write(LogLevel level, string category, string message, Exception? exception)
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
        var line = _verbose
            ? $"[{_clock.Elapsed.TotalSeconds,8:0.000}] {label} {category}: {message}"
            : $"katasharp: {label}: {message}";
        if (exception is not null && _verbose)
        {
            line += Environment.NewLine + exception;
        }

        lock (WriteLock)
        {
            System.Console.Error.WriteLine(line);
        }
    }

    private sealed class StderrLogger(StderrLoggerProvider provider, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                provider.Write(logLevel, category, formatter(state, exception), exception);
            }
        }
    }
}

using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace KataSharp.Runtime.Logging;

/// <summary>
/// Logs to stderr, synchronously, one line per message: a CLI's stdout belongs to the container's
/// output, and neither a CLI nor a shim may lose its last messages to a background writer when it
/// exits. Plain "katasharp: warning: ..." by default; verbose lines carry time since start and the category.
/// </summary>
public sealed class StderrLoggerProvider : ILoggerProvider
{
    private static readonly object WriteLock = new();
    private readonly bool _verbose;
    private readonly string _program;
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    public StderrLoggerProvider(bool verbose, string program = "katasharp")
    {
        _verbose = verbose;
        _program = program;
    }

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
            : $"{_program}: {label}: {message}";
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

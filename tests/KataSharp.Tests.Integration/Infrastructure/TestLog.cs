using Microsoft.Extensions.Logging;

namespace KataSharp.Tests.Integration.Infrastructure;

/// <summary>
/// The runtime's log for the whole run, appended to one file next to the test assembly
/// (<c>integration-logs/run-*.log</c>), so that a failure can be read after the fact.
/// </summary>
public static class TestLog
{
    private static readonly Lazy<ILoggerFactory> LazyFactory = new(() =>
    {
        var dir = Path.Combine(AppContext.BaseDirectory, "integration-logs");
        Directory.CreateDirectory(dir);
        FilePath = Path.Combine(dir, $"run-{DateTime.UtcNow:yyyyMMdd-HHmmss}-{Environment.ProcessId}.log");
        return LoggerFactory.Create(builder => builder.SetMinimumLevel(LogLevel.Debug).AddProvider(new FileLoggerProvider(FilePath)));
    });

    public static ILoggerFactory Factory => LazyFactory.Value;

    public static string FilePath { get; private set; } = "";

    /// <summary>A line in the log from the tests themselves.</summary>
    public static void Write(string message) => Factory.CreateLogger("test").LogInformation("{Message}", message);

    private sealed class FileLoggerProvider(string path) : ILoggerProvider
    {
        private readonly StreamWriter _writer = new(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
        private readonly object _lock = new();

        public ILogger CreateLogger(string categoryName) => new FileLogger(this, categoryName);

        public void Dispose()
        {
            lock (_lock)
            {
                _writer.Dispose();
            }
        }

        private void Append(string line)
        {
            lock (_lock)
            {
                try
                {
                    _writer.WriteLine(line);
                }
                catch (ObjectDisposedException)
                {
                }
            }
        }

        private sealed class FileLogger(FileLoggerProvider provider, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Debug;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                var line = $"{DateTime.UtcNow:HH:mm:ss.fff} {logLevel.ToString()[..4].ToLowerInvariant()} {category}: {formatter(state, exception)}";
                provider.Append(exception is null ? line : line + Environment.NewLine + exception);
            }
        }
    }
}

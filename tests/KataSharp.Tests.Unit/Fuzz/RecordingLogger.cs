using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace KataSharp.Tests.Unit.Fuzz;

/// <summary>
/// Keeps every log entry that carries an exception: the ttrpc server logs a handler's unclassified
/// exception (a bug, answered as Internal) exactly that way, so each one is a fuzz finding.
/// </summary>
internal sealed class RecordingLogger : ILogger
{
    private readonly ConcurrentQueue<string> _failures = new();

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (exception is not null && logLevel >= LogLevel.Warning)
        {
            _failures.Enqueue($"{formatter(state, exception)}: {exception}");
        }
    }

    /// <summary>Throws for the first recorded failure and forgets them all.</summary>
    public void ThrowIfAny()
    {
        var first = _failures.TryPeek(out var failure) ? failure : null;
        _failures.Clear();
        if (first is not null)
        {
            throw new InvalidOperationException($"a handler failed with an unclassified exception: {first}");
        }
    }
}

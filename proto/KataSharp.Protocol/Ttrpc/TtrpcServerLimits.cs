namespace KataSharp.Protocol.Ttrpc;

/// <summary>
/// What one connection may have in flight on a <see cref="TtrpcServer"/>: calls being handled, and the request bytes
/// they hold. A request past either bound is answered ResourceExhausted at once, without running its handler; while
/// that answer is written the connection is not read, so a peer that floods calls and reads no answers stalls only
/// its own connection.
/// </summary>
/// <param name="MaxCalls">Calls in flight at once; long-polls (WaitProcess, ReadOutput) count as they wait.</param>
/// <param name="MaxBytes">Request bytes the calls in flight hold; one call alone is always admitted (its frame is capped at 4 MiB).</param>
public sealed record TtrpcServerLimits(int MaxCalls, long MaxBytes)
{
    /// <summary>Far above what a pod needs (a few long-polls per process), far below what would exhaust a guest's memory.</summary>
    public static TtrpcServerLimits Default { get; } = new(1024, 64L << 20);
}

/// <summary>The calls and bytes in flight on one connection, against its <see cref="TtrpcServerLimits"/>.</summary>
internal sealed class TtrpcInflightBudget(TtrpcServerLimits limits)
{
    private readonly Lock _lock = new();
    private int _calls;
    private long _bytes;

    /// <summary>Takes room for a call of <paramref name="bytes"/>; false (taking nothing) when it is over a bound.</summary>
    public bool TryAdmit(long bytes)
    {
        lock (_lock)
        {
            if (_calls >= limits.MaxCalls || (_calls > 0 && _bytes + bytes > limits.MaxBytes))
            {
                return false;
            }

            _calls++;
            _bytes += bytes;
            return true;
        }
    }

    public void Release(long bytes)
    {
        lock (_lock)
        {
            _calls--;
            _bytes -= bytes;
        }
    }

    public string Refusal(long bytes)
    {
        lock (_lock)
        {
            return $"too many calls in flight on this connection: {_calls} holding {_bytes} bytes (at most {limits.MaxCalls} calls and {limits.MaxBytes} bytes; this one has {bytes})";
        }
    }
}

/// <summary>
/// One admitted call's room in a <see cref="TtrpcInflightBudget"/>. It is given back just before the call's answer
/// is written, not after: a peer that has its answer must be able to send its next call at once, and the bound is on
/// calls the peer is still waiting for. Giving it back twice (the answer path, then the call's end) counts once.
/// </summary>
internal sealed class TtrpcAdmission(TtrpcInflightBudget budget, long bytes)
{
    private int _released;

    public void Release()
    {
        if (Interlocked.Exchange(ref _released, 1) == 0)
        {
            budget.Release(bytes);
        }
    }
}

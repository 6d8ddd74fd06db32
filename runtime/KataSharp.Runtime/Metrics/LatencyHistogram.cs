namespace KataSharp.Runtime.Metrics;

/// <summary>A thread-safe histogram of durations in seconds, with fixed bucket bounds.</summary>
public sealed class LatencyHistogram
{
    /// <summary>From a millisecond to a minute: agent calls under TCG take from a few ms to many seconds.</summary>
    public static readonly IReadOnlyList<double> DefaultBounds = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

    private readonly IReadOnlyList<double> _bounds;
    private readonly long[] _counts;
    private readonly Lock _gate = new();
    private long _count;
    private double _sum;

    public LatencyHistogram(IReadOnlyList<double>? bounds = null)
    {
        _bounds = bounds ?? DefaultBounds;
        _counts = new long[_bounds.Count];
    }

    public void Observe(double seconds)
    {
        lock (_gate)
        {
            _count++;
            _sum += seconds;
            for (var i = 0; i < _bounds.Count; i++)
            {
                if (seconds <= _bounds[i])
                {
                    _counts[i]++;
                    break;
                }
            }
        }
    }

    public HistogramSnapshot Snapshot()
    {
        lock (_gate)
        {
            return new HistogramSnapshot(_bounds, [.. _counts], _count, _sum);
        }
    }
}

/// <summary>Per-bucket (not cumulative) counts; the last bucket (+Inf) is <see cref="Count"/> minus their sum.</summary>
public sealed record HistogramSnapshot(IReadOnlyList<double> Bounds, IReadOnlyList<long> Counts, long Count, double Sum);

namespace KataSharp.Shim.Lifecycle;

/// <summary>
/// Gives the GC's idle memory back once the shim goes quiet. A pod's shim is busy while the pod starts (and during
/// an exec, a stats scrape or a stop) and idle for the rest of its life. The GC keeps what it committed during the
/// busy part: the gen0 region it allocated through and the free space after each collection, several MiB that an
/// idle process holds for nothing. After a quiet period that followed some work, one aggressive collection
/// decommits it. Quiet means less than <see cref="QuietBytes"/> allocated over a whole period, so a background loop
/// that allocates a little now and then does not keep the memory pinned; and a collection runs only after at least
/// <see cref="WorkBytes"/> were allocated since the last one, so an idle shim does not collect every period.
/// </summary>
internal sealed class IdleHeapTrimmer
{
    /// <summary>At most this much allocated over one period still counts as quiet.</summary>
    public const long QuietBytes = 64 * 1024;

    /// <summary>At least this much allocated since the last trim makes another worth its pause.</summary>
    public const long WorkBytes = 512 * 1024;

    private readonly Func<long> _allocatedBytes;
    private readonly Action _collect;
    private long _lastSeen;
    private long _lastTrim;

    /// <param name="allocatedBytes">The process's running total of allocated bytes (<see cref="GC.GetTotalAllocatedBytes(bool)"/>).</param>
    /// <param name="collect">The collection that decommits (an aggressive, blocking, compacting full GC).</param>
    public IdleHeapTrimmer(Func<long> allocatedBytes, Action collect)
    {
        _allocatedBytes = allocatedBytes;
        _collect = collect;
        _lastSeen = _lastTrim = allocatedBytes();
    }

    public int Trims { get; private set; }

    /// <summary>The trimmer of this process: <see cref="GC"/>'s own counter and collection.</summary>
    public static IdleHeapTrimmer ForThisProcess() =>
        new(() => GC.GetTotalAllocatedBytes(precise: false), () => GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true));

    /// <summary>Called once per period; collects when the period was quiet and enough work came before it.</summary>
    /// <returns>Whether it collected.</returns>
    public bool Tick()
    {
        var now = _allocatedBytes();
        var quiet = now - _lastSeen < QuietBytes;
        _lastSeen = now;
        if (!quiet || now - _lastTrim < WorkBytes)
        {
            return false;
        }

        _collect();
        Trims++;
        _lastSeen = _lastTrim = _allocatedBytes();
        return true;
    }

    /// <summary>Ticks every <paramref name="period"/> until cancelled.</summary>
    public async Task RunAsync(TimeSpan period, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(period);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                Tick();
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}

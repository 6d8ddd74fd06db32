using System.Threading.Channels;
using KataSharp.Agent.Containers;
using Microsoft.Extensions.Logging;

namespace KataSharp.Agent.Stats;

/// <summary>
/// Notices OOM kills in container cgroups (memory.events oom_kill going up, polled every 200 ms)
/// and queues an event, so a GetOomEvent caller that comes later still gets it. The queue is bounded
/// against a guest that OOMs at will: a container has at most one event pending (later kills fold into
/// it, as the host folds TaskOOM), and past <see cref="Capacity"/> pending the oldest is dropped and counted.
/// </summary>
internal sealed partial class OomWatcher
{
    /// <summary>Pending events at most: one per container, and far more containers than a pod runs.</summary>
    public const int Capacity = 256;

    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(200);

    private readonly Channel<string> _events;
    private readonly HashSet<string> _pending = new(StringComparer.Ordinal);
    private readonly ContainerRegistry _registry;
    private readonly ILogger _logger;
    private long _coalesced;
    private long _dropped;

    public OomWatcher(ContainerRegistry registry, ILogger<OomWatcher> logger, int capacity = Capacity)
    {
        _registry = registry;
        _logger = logger;
        _events = Channel.CreateBounded<string>(new BoundedChannelOptions(capacity) { FullMode = BoundedChannelFullMode.DropOldest, SingleWriter = true },
            Dropped);
    }

    /// <summary>Kills folded into an event already pending for the same container.</summary>
    public long Coalesced => Interlocked.Read(ref _coalesced);

    /// <summary>Pending events dropped, oldest first, because <see cref="Capacity"/> were pending.</summary>
    public long DroppedEvents => Interlocked.Read(ref _dropped);

    /// <summary>Events waiting for a GetOomEvent caller.</summary>
    public int PendingCount => _events.Reader.Count;

    /// <summary>Waits for the next OOM kill and returns the container id.</summary>
    public async ValueTask<string> NextAsync(CancellationToken cancellationToken)
    {
        var id = await _events.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        lock (_pending)
        {
            _pending.Remove(id);
        }

        return id;
    }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(Interval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                Poll();
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    internal void Poll()
    {
        foreach (var container in _registry.All)
        {
            if (container.CgroupDir is null || container.IsRemoving)
            {
                continue;
            }

            var kills = CgroupStatsReader.ReadOomKills(container.CgroupDir);
            if (kills > container.OomKillsSeen)
            {
                container.OomKillsSeen = kills;
                LogOom(_logger, container.Id, kills);
                Queue(container.Id);
            }
        }
    }

    private void Queue(string containerId)
    {
        lock (_pending)
        {
            if (!_pending.Add(containerId))
            {
                Interlocked.Increment(ref _coalesced);
                return;
            }
        }

        _events.Writer.TryWrite(containerId);
    }

    private void Dropped(string containerId)
    {
        lock (_pending)
        {
            _pending.Remove(containerId);
        }

        if (Interlocked.Increment(ref _dropped) == 1)
        {
            LogDropped(_logger, containerId, _events.Reader.Count);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "container {ContainerId}: OOM kill (oom_kill={Count})")]
    private static partial void LogOom(ILogger logger, string containerId, ulong count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "OOM event of container {ContainerId} dropped: {Pending} events pending and nobody reads them (further drops are only counted)")]
    private static partial void LogDropped(ILogger logger, string containerId, int pending);
}

using System.Threading.Channels;
using KataSharp.Agent.Containers;
using Microsoft.Extensions.Logging;

namespace KataSharp.Agent.Stats;

/// <summary>
/// Notices OOM kills in container cgroups (memory.events oom_kill going up, polled every 200 ms)
/// and queues one event per increase, so a GetOomEvent caller that comes later still gets it.
/// </summary>
internal sealed partial class OomWatcher
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(200);

    private readonly Channel<string> _events = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleWriter = true });
    private readonly ContainerRegistry _registry;
    private readonly ILogger _logger;

    public OomWatcher(ContainerRegistry registry, ILogger<OomWatcher> logger)
    {
        _registry = registry;
        _logger = logger;
    }

    /// <summary>Waits for the next OOM kill and returns the container id.</summary>
    public ValueTask<string> NextAsync(CancellationToken cancellationToken) => _events.Reader.ReadAsync(cancellationToken);

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
                _events.Writer.TryWrite(container.Id);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "container {ContainerId}: OOM kill (oom_kill={Count})")]
    private static partial void LogOom(ILogger logger, string containerId, ulong count);
}

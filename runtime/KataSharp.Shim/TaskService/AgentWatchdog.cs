using Microsoft.Extensions.Logging;

namespace KataSharp.Shim.TaskService;

/// <summary>How the shim decides that a pod's agent is gone while its VMM still runs.</summary>
/// <param name="Interval">Time between the end of one probe and the start of the next.</param>
/// <param name="ProbeTimeout">The deadline of one probe.</param>
/// <param name="Failures">Consecutive failed probes that make the agent dead.</param>
internal sealed record AgentHealthPolicy(TimeSpan Interval, TimeSpan ProbeTimeout, int Failures)
{
    /// <summary>
    /// An agent silent for three probes of ten seconds each is dead: a healthy agent answers Check in
    /// milliseconds even under TCG on a loaded host, and a single slow answer never decides anything.
    /// </summary>
    public static AgentHealthPolicy Default { get; } = new(TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(10), 3);
}

/// <summary>
/// Watches a pod's agent while its VMM lives: the connection dropping, or <see cref="AgentHealthPolicy.Failures"/>
/// probes in a row failing, makes the agent dead. A VMM that outlives its agent would otherwise leave
/// every container "running" for ever, with no exit for containerd and calls that only time out.
/// </summary>
internal sealed partial class AgentWatchdog : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource<string> _dead = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _watch;

    /// <param name="probe">One health check with the given deadline; throws or returns false when the agent did not answer as healthy.</param>
    /// <param name="connectionLost">Completes when the connection to the agent drops.</param>
    public AgentWatchdog(Func<TimeSpan, CancellationToken, Task<bool>> probe, Task connectionLost, AgentHealthPolicy policy, ILogger logger)
    {
        _watch = Task.Run(() => WatchAsync(probe, connectionLost, policy, logger, _stop.Token));
    }

    /// <summary>Completes with the reason once the agent is dead; never while it answers, and never after dispose.</summary>
    public Task<string> Dead => _dead.Task;

    private async Task WatchAsync(Func<TimeSpan, CancellationToken, Task<bool>> probe, Task connectionLost, AgentHealthPolicy policy, ILogger logger, CancellationToken stop)
    {
        var failures = 0;
        var lastError = "";
        try
        {
            while (!stop.IsCancellationRequested)
            {
                if (connectionLost.IsCompleted)
                {
                    _dead.TrySetResult("the connection to the agent dropped");
                    return;
                }

                try
                {
                    var healthy = await probe(policy.ProbeTimeout, stop).WaitAsync(policy.ProbeTimeout + TimeSpan.FromSeconds(1), stop).ConfigureAwait(false);
                    lastError = healthy ? "" : "the agent reported itself not serving";
                }
                catch (Exception e) when (e is not OperationCanceledException || !stop.IsCancellationRequested)
                {
                    lastError = e.Message;
                }

                if (lastError.Length == 0)
                {
                    failures = 0;
                }
                else if (++failures >= policy.Failures)
                {
                    _dead.TrySetResult($"the agent did not answer {failures} health checks in a row (last: {lastError})");
                    return;
                }
                else
                {
                    LogProbeFailed(logger, failures, policy.Failures, lastError);
                }

                await Task.WhenAny(connectionLost, Task.Delay(policy.Interval, stop)).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _watch.ConfigureAwait(false);
        _stop.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "agent health check {Failures}/{Limit} failed: {Reason}")]
    private static partial void LogProbeFailed(ILogger logger, int failures, int limit, string reason);
}

using System.Threading.Channels;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using KataSharp.Protocol;
using KataSharp.Protocol.Containerd.Events;
using KataSharp.Protocol.Containerd.Services.Events.Ttrpc.V1;
using KataSharp.Protocol.Ttrpc;
using Microsoft.Extensions.Logging;

namespace KataSharp.Shim.Events;

/// <summary>
/// Forwards task events to containerd over ttrpc at $TTRPC_ADDRESS, one at a time and in the order
/// they were published (containerd requires Create → Start → Exit → Delete). A dropped connection
/// is re-dialled and the event retried, as runc's shim does. The queue is bounded against the guest:
/// lifecycle events come from containerd's own requests and are always kept, while the events a guest
/// can raise at will (TaskOOM) coalesce, one pending per container, and are dropped past
/// <see cref="Capacity"/> queued events.
/// </summary>
internal sealed partial class EventPublisher : ITaskEvents, IAsyncDisposable
{
    public const string ForwardService = "containerd.services.events.ttrpc.v1.Events";

    /// <summary>The most queued events a guest-raised event may join.</summary>
    public const int Capacity = 1024;

    private const int Attempts = 5;

    private readonly string? _address;
    private readonly string _namespace;
    private readonly ILogger _logger;
    private readonly Channel<Queued> _queue = Channel.CreateUnbounded<Queued>(new UnboundedChannelOptions { SingleReader = true });
    private readonly HashSet<string> _pendingOom = new(StringComparer.Ordinal);
    private readonly Task _pump;
    private TtrpcClient? _client;
    private int _pending;
    private int _highWater;
    private long _coalesced;
    private long _dropped;

    public EventPublisher(string? ttrpcAddress, string ns, ILogger logger)
    {
        _address = string.IsNullOrEmpty(ttrpcAddress) ? null : ttrpcAddress;
        _namespace = ns;
        _logger = logger;
        _pump = Task.Run(PumpAsync);
    }

    /// <summary>The most events that were ever queued at once.</summary>
    public int HighWater => Volatile.Read(ref _highWater);

    /// <summary>Guest-raised events folded into one already queued for the same container.</summary>
    public long Coalesced => Interlocked.Read(ref _coalesced);

    /// <summary>Guest-raised events dropped because the queue was full.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    public void Publish(string topic, IMessage @event) => Enqueue(topic, @event, null);

    /// <summary>Publishes, and completes once containerd has the event (or forwarding gave up). Never coalesced.</summary>
    public Task PublishAndWaitAsync(string topic, IMessage @event)
    {
        var forwarded = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!Enqueue(topic, @event, forwarded))
        {
            forwarded.TrySetResult();
        }

        return forwarded.Task;
    }

    private bool Enqueue(string topic, IMessage @event, TaskCompletionSource? forwarded)
    {
        var coalesceKey = forwarded is null && @event is TaskOOM oom ? oom.ContainerId : null;
        lock (_pendingOom)
        {
            if (coalesceKey is not null)
            {
                if (_pendingOom.Contains(coalesceKey))
                {
                    _coalesced++;
                    return false;
                }

                if (_pending >= Capacity)
                {
                    _dropped++;
                    return false;
                }

                _pendingOom.Add(coalesceKey);
            }

            _pending++;
            _highWater = Math.Max(_highWater, _pending);
        }

        if (_queue.Writer.TryWrite(new Queued(Wrap(topic, @event), forwarded, coalesceKey)))
        {
            return true;
        }

        Dequeued(coalesceKey);
        return false;
    }

    private void Dequeued(string? coalesceKey)
    {
        lock (_pendingOom)
        {
            _pending--;
            if (coalesceKey is not null)
            {
                _pendingOom.Remove(coalesceKey);
            }
        }
    }

    private Envelope Wrap(string topic, IMessage @event) => new()
    {
        Timestamp = Timestamp.FromDateTime(DateTime.UtcNow),
        Namespace = _namespace,
        Topic = topic,
        Event = TypeUrls.Pack(@event),
    };

    private async Task PumpAsync()
    {
        await foreach (var (envelope, forwarded, coalesceKey) in _queue.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            // From here on a new event of the same kind is news again: it queues behind this one.
            Dequeued(coalesceKey);
            try
            {
                await ForwardAsync(envelope).ConfigureAwait(false);
            }
            finally
            {
                forwarded?.TrySetResult();
            }
        }
    }

    private async Task ForwardAsync(Envelope envelope)
    {
        if (_address is null)
        {
            return;
        }

        for (var attempt = 1; attempt <= Attempts; attempt++)
        {
            try
            {
                _client ??= await TtrpcClient.ConnectUnixAsync(_address, CancellationToken.None).ConfigureAwait(false);
                var events = new Protocol.Containerd.Services.Events.Ttrpc.V1.Events.EventsClient(new TtrpcCallInvoker(_client));
                await events.ForwardAsync(new ForwardRequest { Envelope = envelope }, deadline: DateTime.UtcNow.AddSeconds(5)).ResponseAsync.ConfigureAwait(false);
                break;
            }
            catch (Exception e) when (e is RpcException or System.Net.Sockets.SocketException or IOException)
            {
                LogForwardFailed(_logger, envelope.Topic, attempt, e.Message);
                if (_client is { IsConnected: false } dead)
                {
                    await dead.DisposeAsync().ConfigureAwait(false);
                    _client = null;
                }

                if (e is RpcException { StatusCode: not (StatusCode.Unavailable or StatusCode.DeadlineExceeded) })
                {
                    break;
                }

                await Task.Delay(TimeSpan.FromMilliseconds(100 * attempt)).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Sends what is queued (bounded by <paramref name="timeout"/>), then closes the connection.</summary>
    public async Task FlushAndCloseAsync(TimeSpan timeout)
    {
        _queue.Writer.TryComplete();
        await _pump.WaitAsync(timeout).ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
        if (_client is not null)
        {
            await _client.DisposeAsync().ConfigureAwait(false);
            _client = null;
        }
    }

    public async ValueTask DisposeAsync() => await FlushAndCloseAsync(TimeSpan.FromSeconds(3)).ConfigureAwait(false);

    [LoggerMessage(Level = LogLevel.Warning, Message = "forwarding event {Topic} failed (attempt {Attempt}): {Reason}")]
    private static partial void LogForwardFailed(ILogger logger, string topic, int attempt, string reason);

    private sealed record Queued(Envelope Envelope, TaskCompletionSource? Forwarded, string? CoalesceKey);
}

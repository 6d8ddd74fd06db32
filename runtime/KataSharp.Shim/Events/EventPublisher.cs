using System.Threading.Channels;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using KataSharp.Protocol;
using KataSharp.Protocol.Containerd.Services.Events.Ttrpc.V1;
using KataSharp.Protocol.Ttrpc;
using Microsoft.Extensions.Logging;

namespace KataSharp.Shim.Events;

/// <summary>
/// Forwards task events to containerd over ttrpc at $TTRPC_ADDRESS, one at a time and in the order
/// they were published (containerd requires Create → Start → Exit → Delete). A dropped connection
/// is re-dialled and the event retried, as runc's shim does.
/// </summary>
internal sealed partial class EventPublisher : ITaskEvents, IAsyncDisposable
{
    public const string ForwardService = "containerd.services.events.ttrpc.v1.Events";
    private const int Attempts = 5;

    private readonly string? _address;
    private readonly string _namespace;
    private readonly ILogger _logger;
    private readonly Channel<(Envelope Envelope, TaskCompletionSource? Forwarded)> _queue = Channel.CreateUnbounded<(Envelope, TaskCompletionSource?)>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _pump;
    private TtrpcClient? _client;

    public EventPublisher(string? ttrpcAddress, string ns, ILogger logger)
    {
        _address = string.IsNullOrEmpty(ttrpcAddress) ? null : ttrpcAddress;
        _namespace = ns;
        _logger = logger;
        _pump = Task.Run(PumpAsync);
    }

    public void Publish(string topic, IMessage @event) => _queue.Writer.TryWrite((Wrap(topic, @event), null));

    /// <summary>Publishes, and completes once containerd has the event (or forwarding gave up).</summary>
    public Task PublishAndWaitAsync(string topic, IMessage @event)
    {
        var forwarded = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_queue.Writer.TryWrite((Wrap(topic, @event), forwarded)))
        {
            forwarded.TrySetResult();
        }

        return forwarded.Task;
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
        await foreach (var (envelope, forwarded) in _queue.Reader.ReadAllAsync().ConfigureAwait(false))
        {
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
}

using System.Collections.Concurrent;
using System.Net.Sockets;
using Google.Protobuf;
using Grpc.Core;
using KataSharp.Protocol.Ttrpc.Wire;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace KataSharp.Protocol.Ttrpc;

/// <summary>
/// Serves the methods of a <see cref="TtrpcServiceRegistry"/> over any duplex stream.
/// Requests are dispatched concurrently (a blocking Wait must not hold up other calls)
/// and responses go out whole, one frame at a time, in completion order.
/// </summary>
public sealed partial class TtrpcServer
{
    private static readonly TimeSpan MaxTimerDelay = TimeSpan.FromMilliseconds(uint.MaxValue - 1);

    /// <summary>
    /// How long a closing connection's handlers may go on writing: a response being written when the peer closes is
    /// finished whole, since a torn frame would desynchronise the peer; only a peer that stops reading makes it wait
    /// this long, and then what it did not read is dropped.
    /// </summary>
    private static readonly TimeSpan ClosingWriteGrace = TimeSpan.FromSeconds(2);

    private readonly TtrpcServiceRegistry _registry;
    private readonly ILogger _logger;
    private readonly TtrpcServerLimits _limits;

    public TtrpcServer(TtrpcServiceRegistry registry, ILogger? logger = null, TtrpcServerLimits? limits = null)
    {
        _registry = registry;
        _logger = logger ?? NullLogger.Instance;
        _limits = limits ?? TtrpcServerLimits.Default;
    }

    /// <summary>Accepts connections on a listening socket until cancelled, serving each in the background.</summary>
    public async Task ListenAsync(Socket listener, CancellationToken cancellationToken)
    {
        var connections = new ConcurrentDictionary<Task, byte>();
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                Socket socket;
                try
                {
                    socket = await listener.AcceptAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }

                var connection = ServeAsync(new NetworkStream(socket, ownsSocket: true), "unix", cancellationToken);
                connections[connection] = 0;
                _ = connection.ContinueWith(t => connections.TryRemove(t, out _), TaskScheduler.Default);
            }
        }
        finally
        {
            await Task.WhenAll(connections.Keys).ConfigureAwait(false);
        }
    }

    /// <summary>Serves one connection until the peer closes it or <paramref name="cancellationToken"/> fires.</summary>
    public async Task ServeAsync(Stream stream, string peer, CancellationToken cancellationToken)
    {
        using var connectionClosing = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var abandonWrites = new CancellationTokenSource();
        var reader = TtrpcFrameReader.Over(stream);
        var writer = TtrpcFrameWriter.Over(stream, abandonWrites.Token);
        var inflight = new ConcurrentDictionary<Task, byte>();
        var budget = new TtrpcInflightBudget(_limits);
        try
        {
            while (await reader.ReadAsync(TtrpcMessageType.Request, Request.Parser, connectionClosing.Token).ConfigureAwait(false) is { } frame)
            {
                var isRequest = frame.Header.Type == TtrpcMessageType.Request;
                long bytes = frame.Oversized ? 0 : frame.Header.Length;
                if (isRequest && !budget.TryAdmit(bytes))
                {
                    // Answered before the next read: a peer that floods calls and reads no answers stalls its own connection only.
                    LogCallRefused(_logger, peer, frame.Header.StreamId);
                    await SendStatusAsync(writer, frame.Header.StreamId, new Status(StatusCode.ResourceExhausted, budget.Refusal(bytes)), connectionClosing.Token).ConfigureAwait(false);
                    continue;
                }

                var admission = isRequest ? new TtrpcAdmission(budget, bytes) : null;
                var call = HandleFrameAsync(frame, writer, peer, admission, connectionClosing.Token);
                if (call.IsCompleted)
                {
                    admission?.Release();
                }
                else
                {
                    inflight[call] = 0;
                    _ = call.ContinueWith(t =>
                    {
                        inflight.TryRemove(t, out _);
                        admission?.Release();
                    }, TaskScheduler.Default);
                }
            }
        }
        catch (OperationCanceledException) when (connectionClosing.IsCancellationRequested)
        {
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            LogConnectionFailed(_logger, peer, e.Message);
        }
        finally
        {
            // Handlers of a dead connection have nobody to answer: cancel them and let them unwind.
            await connectionClosing.CancelAsync().ConfigureAwait(false);
            var handlers = Task.WhenAll(inflight.Keys);
            if (await Task.WhenAny(handlers, Task.Delay(ClosingWriteGrace, CancellationToken.None)).ConfigureAwait(false) != handlers)
            {
                await abandonWrites.CancelAsync().ConfigureAwait(false);
            }

            await handlers.ConfigureAwait(false);
            await writer.DisposeAsync().ConfigureAwait(false);
            await stream.DisposeAsync().ConfigureAwait(false);
        }
    }

    private Task HandleFrameAsync(TtrpcFrame<Request> frame, TtrpcFrameWriter writer, string peer, TtrpcAdmission? admission, CancellationToken connectionClosing)
    {
        var streamId = frame.Header.StreamId;
        if (frame.Header.Type != TtrpcMessageType.Request)
        {
            // Newer ttrpc frame types are ignored for forward compatibility, as Go's server does.
            return Task.CompletedTask;
        }

        if (frame.Oversized)
        {
            return RefuseAsync(writer, streamId, admission, new Status(StatusCode.ResourceExhausted,
                $"message of {frame.Header.Length} bytes exceeds the {TtrpcFrameHeader.MaxPayload}-byte limit"), connectionClosing);
        }

        if (streamId % 2 == 0)
        {
            return RefuseAsync(writer, streamId, admission, new Status(StatusCode.InvalidArgument,
                "StreamID must be odd for client initiated streams"), connectionClosing);
        }

        if (frame.Message is not { } request)
        {
            return RefuseAsync(writer, streamId, admission, new Status(StatusCode.InvalidArgument, $"malformed ttrpc request: {frame.Malformed}"), connectionClosing);
        }

        var handler = _registry.Find(request.Service, request.Method);
        if (handler is null)
        {
            return RefuseAsync(writer, streamId, admission, new Status(StatusCode.Unimplemented,
                $"{request.Service}/{request.Method}: method not implemented"), connectionClosing);
        }

        return Task.Run(() => DispatchAsync(handler, request, streamId, writer, peer, admission, connectionClosing), CancellationToken.None);
    }

    private async Task DispatchAsync(TtrpcMethodHandler handler, Request request, uint streamId, TtrpcFrameWriter writer, string peer, TtrpcAdmission? admission, CancellationToken connectionClosing)
    {
        using var callCancel = CancellationTokenSource.CreateLinkedTokenSource(connectionClosing);
        var deadline = DateTime.MaxValue;
        if (request.TimeoutNano > 0)
        {
            var timeout = TimeSpan.FromTicks(request.TimeoutNano / 100);
            deadline = DateTime.UtcNow + timeout;
            // A timer waits at most ~49 days; a deadline further away than that is as good as none.
            if (timeout <= MaxTimerDelay)
            {
                callCancel.CancelAfter(timeout);
            }
        }

        var headers = new Metadata();
        foreach (var kv in request.Metadata)
        {
            try
            {
                headers.Add(kv.Key, kv.Value);
            }
            catch (ArgumentException)
            {
                // gRPC metadata refuses some keys ttrpc can carry (spaces, NUL, "-bin" with text): the caller's input.
                await RefuseAsync(writer, streamId, admission, new Status(StatusCode.InvalidArgument,
                    $"metadata key '{(kv.Key.Length > 64 ? kv.Key[..64] + "..." : kv.Key)}' is not a valid key"), connectionClosing).ConfigureAwait(false);
                return;
            }
        }

        var context = new TtrpcServerCallContext($"/{request.Service}/{request.Method}", peer, deadline, headers, callCancel.Token);
        Rpc.Status status;
        var payload = default(TtrpcPayload);
        try
        {
            payload = await handler(TtrpcMarshalling.TakeBytes(request.Payload), context).ConfigureAwait(false);
            status = new Rpc.Status();
        }
        catch (Exception e)
        {
            // The timer that cancels the call can fire a hair before UtcNow reaches the deadline.
            var deadlineExpired = deadline != DateTime.MaxValue && callCancel.IsCancellationRequested && !connectionClosing.IsCancellationRequested;
            var failure = TtrpcStatusMapper.ToStatus(e, deadlineExpired);
            if (failure.StatusCode is StatusCode.Unknown || (failure.StatusCode is StatusCode.Internal && e is not RpcException))
            {
                LogHandlerFailed(_logger, request.Service, request.Method, e);
            }

            status = new Rpc.Status { Code = (int)failure.StatusCode, Message = failure.Detail };
        }

        using (payload)
        {
            if (connectionClosing.IsCancellationRequested)
            {
                return;
            }

            admission?.Release();
            var size = TtrpcResponseEncoding.Size(status, payload);
            if (size > TtrpcFrameHeader.MaxPayload)
            {
                await SendStatusAsync(writer, streamId, new Status(StatusCode.ResourceExhausted,
                    $"response of {size} bytes exceeds the {TtrpcFrameHeader.MaxPayload}-byte limit"), connectionClosing).ConfigureAwait(false);
                return;
            }

            await WriteResponseAsync(writer, streamId, status, payload, connectionClosing).ConfigureAwait(false);
        }
    }

    private Task RefuseAsync(TtrpcFrameWriter writer, uint streamId, TtrpcAdmission? admission, Status status, CancellationToken cancellationToken)
    {
        admission?.Release();
        return SendStatusAsync(writer, streamId, status, cancellationToken);
    }

    private Task SendStatusAsync(TtrpcFrameWriter writer, uint streamId, Status status, CancellationToken cancellationToken)
    {
        return WriteResponseAsync(writer, streamId, new Rpc.Status { Code = (int)status.StatusCode, Message = status.Detail }, default, cancellationToken);
    }

    private async Task WriteResponseAsync(TtrpcFrameWriter writer, uint streamId, Rpc.Status status, TtrpcPayload payload, CancellationToken cancellationToken)
    {
        try
        {
            await writer.WriteAsync(streamId, TtrpcMessageType.Response, 0, TtrpcResponseEncoding.Size(status, payload), (status, payload),
                static (output, response) => TtrpcResponseEncoding.Write(output, response.status, response.payload), cancellationToken, payload.Trailing).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException or InvalidOperationException)
        {
            LogResponseDropped(_logger, streamId, e.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "ttrpc call on stream {StreamId} from {Peer} refused: too many calls in flight on its connection")]
    private static partial void LogCallRefused(ILogger logger, string peer, uint streamId);

    [LoggerMessage(Level = LogLevel.Debug, Message = "ttrpc connection from {Peer} failed: {Reason}")]
    private static partial void LogConnectionFailed(ILogger logger, string peer, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "ttrpc handler {Service}/{Method} failed")]
    private static partial void LogHandlerFailed(ILogger logger, string service, string method, Exception exception);

    [LoggerMessage(Level = LogLevel.Debug, Message = "ttrpc response on stream {StreamId} dropped: {Reason}")]
    private static partial void LogResponseDropped(ILogger logger, uint streamId, string reason);
}

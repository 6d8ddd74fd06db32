using System.Collections.Concurrent;
using System.Net.Sockets;
using Google.Protobuf;
using Grpc.Core;
using KataSharp.Protocol.Ttrpc.Wire;

namespace KataSharp.Protocol.Ttrpc;

/// <summary>
/// A ttrpc client over one duplex stream. Calls run concurrently on odd stream ids and are
/// matched to their responses by id, in whatever order the server answers. When the
/// connection drops, every pending call fails at once with Unavailable.
/// </summary>
public sealed class TtrpcClient : IAsyncDisposable
{
    private readonly Stream _stream;
    private readonly TtrpcFrameReader _reader;
    private readonly TtrpcFrameWriter _writer;
    private readonly ConcurrentDictionary<uint, TaskCompletionSource<Response>> _pending = new();
    private readonly CancellationTokenSource _closing = new();
    private readonly Task _readLoop;
    private long _nextStreamId = 1;
    private volatile Exception? _closedReason;

    public TtrpcClient(Stream stream)
    {
        _stream = stream;
        _reader = TtrpcFrameReader.Over(stream);
        // A flush blocked by a peer that stopped reading is abandoned when the client closes: otherwise it holds the
        // writer, and the disposal that waits for it, for good.
        _writer = TtrpcFrameWriter.Over(stream, _closing.Token);
        _readLoop = Task.Run(ReadLoopAsync);
    }

    /// <summary>Completes when the connection has closed, for whatever reason.</summary>
    public Task Completion => _readLoop;

    public bool IsConnected => _closedReason is null;

    public static async Task<TtrpcClient> ConnectUnixAsync(string path, CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellationToken).ConfigureAwait(false);
            return new TtrpcClient(new NetworkStream(socket, ownsSocket: true));
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Sends one unary call and returns the response payload.</summary>
    /// <exception cref="RpcException">The server's status, DeadlineExceeded, Cancelled or Unavailable.</exception>
    public async Task<byte[]> CallAsync(string service, string method, ReadOnlyMemory<byte> payload,
        DateTime? deadline = null, Metadata? metadata = null, CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        // The wrap shares the caller's memory only until the frame is written, before this call returns.
        var request = new Request { Service = service, Method = method, Payload = UnsafeByteOperations.UnsafeWrap(payload) };
        TimeSpan? timeout = null;
        if (deadline is { } d && d != DateTime.MaxValue)
        {
            timeout = d.ToUniversalTime() - DateTime.UtcNow;
            if (timeout <= TimeSpan.Zero)
            {
                throw new RpcException(new Status(StatusCode.DeadlineExceeded, "deadline exceeded before the call was sent"));
            }

            request.TimeoutNano = timeout.Value.Ticks * 100;
        }

        if (metadata is not null)
        {
            foreach (var entry in metadata)
            {
                if (!entry.IsBinary)
                {
                    request.Metadata.Add(new KeyValue { Key = entry.Key, Value = entry.Value });
                }
            }
        }

        var streamId = (uint)Interlocked.Add(ref _nextStreamId, 2) - 2;
        var completion = new TaskCompletionSource<Response>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[streamId] = completion;
        using var timeoutSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (timeout is { } t)
        {
            timeoutSource.CancelAfter(t);
        }

        try
        {
            // A close that raced with registration must not leave this call waiting forever.
            ThrowIfClosed();
            // A peer that does not read blocks the flush, which cannot stop half-way through a frame: the call's
            // deadline ends the wait for it (as ttrpc-go's sender does), and the frame goes out or the connection closes.
            var send = _writer.WriteAsync(streamId, TtrpcMessageType.Request, 0, request, timeoutSource.Token).AsTask();
            try
            {
                await send.WaitAsync(timeoutSource.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!send.IsCompleted)
            {
                _ = send.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
                throw;
            }

            var response = await completion.Task.WaitAsync(timeoutSource.Token).ConfigureAwait(false);
            if (response.Status is { Code: not 0 } status)
            {
                throw new RpcException(new Status((StatusCode)status.Code, status.Message));
            }

            return TtrpcMarshalling.TakeBytes(response.Payload);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && timeout is not null)
        {
            throw new RpcException(new Status(StatusCode.DeadlineExceeded, $"{service}/{method}: deadline exceeded"));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw new RpcException(new Status(StatusCode.Cancelled, $"{service}/{method}: cancelled"));
        }
        catch (IOException e)
        {
            throw Unavailable(e);
        }
        finally
        {
            _pending.TryRemove(streamId, out _);
        }
    }

    private void ThrowIfClosed()
    {
        if (_closedReason is { } reason)
        {
            throw Unavailable(reason);
        }
    }

    private static RpcException Unavailable(Exception reason) =>
        new(new Status(StatusCode.Unavailable, $"ttrpc: connection closed: {reason.Message}", reason));

    private async Task ReadLoopAsync()
    {
        Exception reason = new EndOfStreamException("the server closed the connection");
        try
        {
            while (await _reader.ReadAsync(TtrpcMessageType.Response, Response.Parser, _closing.Token).ConfigureAwait(false) is { } frame)
            {
                if (!_pending.TryGetValue(frame.Header.StreamId, out var call))
                {
                    continue;
                }

                if (frame.Oversized)
                {
                    call.TrySetException(new RpcException(new Status(StatusCode.ResourceExhausted, "ttrpc response exceeds the 4 MiB limit")));
                }
                else if (frame.Malformed is { } malformed)
                {
                    call.TrySetException(new RpcException(new Status(StatusCode.Internal, $"malformed ttrpc response: {malformed}")));
                }
                else if (frame.Message is { } response)
                {
                    call.TrySetResult(response);
                }
            }
        }
        catch (OperationCanceledException)
        {
            reason = new ObjectDisposedException(nameof(TtrpcClient));
        }
        catch (Exception e)
        {
            reason = e;
        }
        finally
        {
            _closedReason = reason;
            foreach (var call in _pending.Values)
            {
                call.TrySetException(Unavailable(reason));
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _closing.Cancel();
        await _writer.DisposeAsync().ConfigureAwait(false);
        await _stream.DisposeAsync().ConfigureAwait(false);
        try
        {
            await _readLoop.ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The read loop records its own failure; disposal must not throw it again.
        }

        _closing.Dispose();
    }
}

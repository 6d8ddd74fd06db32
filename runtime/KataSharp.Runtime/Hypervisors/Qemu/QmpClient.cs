using System.Buffers;
using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace KataSharp.Runtime.Hypervisors.Qemu;

/// <summary>An asynchronous QMP event such as SHUTDOWN, with its data.</summary>
public sealed record QmpEvent(string Name, JsonObject? Data);

/// <summary>QEMU answered a command with an error.</summary>
public sealed class QmpException : Exception
{
    public QmpException(string errorClass, string description) : base($"QMP error {errorClass}: {description}") =>
        ErrorClass = errorClass;

    public QmpException(string message, Exception? inner = null) : base(message, inner) => ErrorClass = "";

    public string ErrorClass { get; }
}

/// <summary>
/// A client for the QEMU Machine Protocol: JSON objects, one per line, over a Unix socket.
/// Commands carry an id and run concurrently; events are delivered to <see cref="EventReceived"/>.
/// Every command has a timeout: a hung QEMU must not hang the runtime.
/// </summary>
public sealed class QmpClient : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly ConcurrentDictionary<long, TaskCompletionSource<JsonNode?>> _pending = new();
    private readonly CancellationTokenSource _closing = new();
    private readonly TaskCompletionSource<JsonObject> _greeting = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _readLoop = Task.CompletedTask;
    private long _nextId;
    private volatile Exception? _closedReason;

    private QmpClient(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
    }

    /// <summary>Raised on the read loop for every event; keep handlers short.</summary>
    public event Action<QmpEvent>? EventReceived;

    /// <summary>Completes when the connection has closed (QEMU exited or closed the monitor).</summary>
    public Task Completion => _readLoop;

    /// <summary>QEMU's version from the greeting, e.g. "7.2.19".</summary>
    public string Version { get; private set; } = "";

    /// <summary>Connects, reads the greeting and negotiates capabilities, all within <paramref name="timeout"/>.</summary>
    /// <exception cref="QmpException">The socket did not answer as QMP in time.</exception>
    public static async Task<QmpClient> ConnectAsync(string socketPath, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        QmpClient? client = null;
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), deadline.Token).ConfigureAwait(false);
            client = new QmpClient(socket);
            client._readLoop = Task.Run(client.ReadLoopAsync, CancellationToken.None);
            var greeting = await client._greeting.Task.WaitAsync(deadline.Token).ConfigureAwait(false);
            if (greeting["QMP"]?["version"]?["qemu"] is JsonObject version)
            {
                client.Version = $"{version["major"]}.{version["minor"]}.{version["micro"]}";
            }

            await client.ExecuteAsync("qmp_capabilities", null, timeout, deadline.Token).ConfigureAwait(false);
            return client;
        }
        catch (Exception e) when (e is OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            await DisposeQuietly(client, socket).ConfigureAwait(false);
            throw new QmpException($"QMP at {socketPath} did not answer within {timeout.TotalSeconds:0.#} s", e);
        }
        catch (Exception e) when (e is SocketException or IOException)
        {
            await DisposeQuietly(client, socket).ConfigureAwait(false);
            throw new QmpException($"cannot connect to QMP at {socketPath}: {e.Message}", e);
        }
        catch
        {
            await DisposeQuietly(client, socket).ConfigureAwait(false);
            throw;
        }
    }

    private static async Task DisposeQuietly(QmpClient? client, Socket socket)
    {
        if (client is not null)
        {
            await client.DisposeAsync().ConfigureAwait(false);
        }
        else
        {
            socket.Dispose();
        }
    }

    /// <summary>Runs a command and returns its "return" value.</summary>
    /// <exception cref="QmpException">QEMU reported an error, the timeout passed, or the connection closed.</exception>
    public async Task<JsonNode?> ExecuteAsync(string command, JsonObject? arguments, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (_closedReason is { } closed)
        {
            throw new QmpException($"QMP connection closed: {closed.Message}", closed);
        }

        var id = Interlocked.Increment(ref _nextId);
        var completion = new TaskCompletionSource<JsonNode?>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = completion;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            var line = Serialize(command, arguments, id);
            await _writeLock.WaitAsync(deadline.Token).ConfigureAwait(false);
            try
            {
                await _stream.WriteAsync(line, deadline.Token).ConfigureAwait(false);
            }
            finally
            {
                _writeLock.Release();
            }

            // A close that raced with registration must not leave this command waiting.
            if (_closedReason is { } reason)
            {
                completion.TrySetException(new QmpException($"QMP connection closed: {reason.Message}", reason));
            }

            return await completion.Task.WaitAsync(deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new QmpException($"QMP {command} timed out after {timeout.TotalSeconds:0.#} s", e);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            throw new QmpException($"QMP {command} failed: {e.Message}", e);
        }
        finally
        {
            _pending.TryRemove(id, out _);
        }
    }

    /// <summary>The run state, e.g. "running", "paused", "shutdown".</summary>
    public async Task<string> QueryStatusAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var result = await ExecuteAsync("query-status", null, timeout, cancellationToken).ConfigureAwait(false);
        return result?["status"]?.GetValue<string>() ?? throw new QmpException("query-status returned no status");
    }

    /// <summary>Presses the ACPI power button.</summary>
    public Task SystemPowerdownAsync(TimeSpan timeout, CancellationToken cancellationToken) =>
        ExecuteAsync("system_powerdown", null, timeout, cancellationToken);

    /// <summary>Asks QEMU to exit at once. QEMU may close the connection before it answers; that counts as success.</summary>
    public async Task QuitAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            await ExecuteAsync("quit", null, timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (QmpException e) when (e.ErrorClass.Length == 0 && _closedReason is not null)
        {
            // The connection closed under the command: QEMU is going away, as asked.
        }
    }

    private static byte[] Serialize(string command, JsonObject? arguments, long id)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("execute", command);
            if (arguments is not null)
            {
                writer.WritePropertyName("arguments");
                arguments.WriteTo(writer);
            }

            writer.WriteNumber("id", id);
            writer.WriteEndObject();
        }

        return [.. buffer.WrittenSpan, (byte)'\n'];
    }

    private async Task ReadLoopAsync()
    {
        Exception reason = new EndOfStreamException("QEMU closed the QMP connection");
        try
        {
            using var reader = new StreamReader(_stream, Encoding.UTF8, false, 4096, leaveOpen: true);
            while (await reader.ReadLineAsync(_closing.Token).ConfigureAwait(false) is { } line)
            {
                if (string.IsNullOrWhiteSpace(line))
                {
                    continue;
                }

                JsonObject message;
                try
                {
                    message = JsonNode.Parse(line) as JsonObject ?? throw new JsonException("not an object");
                }
                catch (JsonException)
                {
                    continue; // Not ours to crash on; QMP only sends objects.
                }

                Dispatch(message);
            }
        }
        catch (OperationCanceledException)
        {
            reason = new ObjectDisposedException(nameof(QmpClient));
        }
        catch (Exception e)
        {
            reason = e;
        }
        finally
        {
            _closedReason = reason;
            _greeting.TrySetException(new QmpException($"QMP connection closed before the greeting: {reason.Message}", reason));
            foreach (var pending in _pending.Values)
            {
                pending.TrySetException(new QmpException($"QMP connection closed: {reason.Message}", reason));
            }
        }
    }

    private void Dispatch(JsonObject message)
    {
        if (message.ContainsKey("QMP"))
        {
            _greeting.TrySetResult(message);
            return;
        }

        if (message["event"] is JsonValue eventName)
        {
            EventReceived?.Invoke(new QmpEvent(eventName.GetValue<string>(), message["data"] as JsonObject));
            return;
        }

        if (message["id"] is not JsonValue idValue || !idValue.TryGetValue<long>(out var id) || !_pending.TryGetValue(id, out var pending))
        {
            return;
        }

        if (message["error"] is JsonObject error)
        {
            pending.TrySetException(new QmpException(error["class"]?.GetValue<string>() ?? "GenericError", error["desc"]?.GetValue<string>() ?? ""));
        }
        else
        {
            pending.TrySetResult(message["return"]?.DeepClone());
        }
    }

    public async ValueTask DisposeAsync()
    {
        _closing.Cancel();
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }

        await _stream.DisposeAsync().ConfigureAwait(false);
        try
        {
            await _readLoop.ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The loop records its own failure.
        }

        _closing.Dispose();
        _writeLock.Dispose();
    }
}

using System.Diagnostics;
using System.Net.Sockets;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Core.Interceptors;
using KataSharp.Protocol.Agent.V1;
using KataSharp.Protocol.Errors;
using KataSharp.Protocol.Ttrpc;
using KataSharp.Runtime.Hypervisors;
using KataSharp.Runtime.Metrics;
using Microsoft.Extensions.Logging;

namespace KataSharp.Runtime.Agent;

/// <summary>How long to wait for the agent: each dial, each ordinary request, and the whole boot.</summary>
public sealed record AgentTimeouts(TimeSpan Dial, TimeSpan Request, TimeSpan Boot)
{
    /// <summary>The per-call deadline of a readiness probe: short, because an agent that is not up yet never answers.</summary>
    public TimeSpan Probe { get; init; } = TimeSpan.FromMilliseconds(1500);
}

/// <summary>The agent did not come up, or the connection to it failed.</summary>
public sealed class AgentException : Exception
{
    public AgentException(string message) : base(message)
    {
    }

    public AgentException(string message, Exception inner) : base(message, inner)
    {
    }
}

/// <summary>
/// One ttrpc connection to katasharp-agent. Every call carries a deadline, except the two that
/// block by design (WaitProcess, ReadOutput), which are bounded by the caller's cancellation token.
/// Replies are checked (<see cref="AgentReplies"/>) before they are handed on.
/// </summary>
public sealed partial class AgentConnection : IAsyncDisposable
{
    private readonly TtrpcClient _ttrpc;
    private readonly TimeSpan _requestTimeout;

    private AgentConnection(TtrpcClient ttrpc, TimeSpan requestTimeout, GuestDetailsResponse? details)
    {
        _ttrpc = ttrpc;
        _requestTimeout = requestTimeout;
        Client = new Protocol.Agent.V1.Agent.AgentClient(Invoker(ttrpc));
        GuestDetails = details ?? new GuestDetailsResponse();
    }

    /// <summary>The generated client, for calls without a wrapper here. Pass <see cref="Deadline"/>.</summary>
    public Protocol.Agent.V1.Agent.AgentClient Client { get; }

    /// <summary>What the agent reported when it came up.</summary>
    public GuestDetailsResponse GuestDetails { get; private set; }

    /// <summary>Completes when the connection drops (the VM died, or the agent closed it).</summary>
    public Task Completion => _ttrpc.Completion;

    public bool IsConnected => _ttrpc.IsConnected;

    /// <summary>The deadline for an ordinary request started now.</summary>
    public DateTime Deadline => DateTime.UtcNow + _requestTimeout;

    /// <summary>Wraps an already-connected stream (tests, or a transport the caller dialled itself).</summary>
    public static AgentConnection FromStream(Stream stream, TimeSpan requestTimeout) => new(new TtrpcClient(stream), requestTimeout, null);

    /// <summary>
    /// Dials the agent and waits until it answers Check as SERVING, then reads its details.
    /// Retries until <see cref="AgentTimeouts.Boot"/>, and gives up early if <paramref name="vmExited"/> completes.
    /// </summary>
    /// <exception cref="AgentException">The agent did not come up in time, or the VM died first.</exception>
    public static async Task<AgentConnection> WaitForAgentAsync(AgentChannel channel, AgentTimeouts timeouts, Task? vmExited,
        ILogger logger, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        using var boot = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        boot.CancelAfter(timeouts.Boot);
        TtrpcClient? ttrpc = null;
        string lastError = "no attempt finished";
        var attempts = 0;
        var probes = new List<Task<CheckResponse>>();
        try
        {
            while (true)
            {
                if (vmExited is { IsCompleted: true })
                {
                    throw new AgentException($"the VM exited before the agent answered (last error: {lastError})");
                }

                attempts++;
                if (ttrpc is null)
                {
                    try
                    {
                        ttrpc = new TtrpcClient(await AgentDialer.DialAsync(channel, timeouts.Dial, boot.Token).ConfigureAwait(false));
                        probes.Clear();
                    }
                    catch (Exception e) when (e is IOException or SocketException)
                    {
                        lastError = e.Message;
                        LogNotReady(logger, attempts, lastError);
                        await Task.Delay(attempts < 20 ? 50 : 200, boot.Token).ConfigureAwait(false);
                        continue;
                    }
                }

                // Probes overlap rather than time out one by one: on virtio-serial a request sent before the
                // agent opened its port waits in the port and is answered the moment the agent starts, so
                // the oldest outstanding probe is usually the first to succeed. Each probe is still bounded
                // (Probe grows with the attempts, for a slow guest), and the boot timeout bounds them all.
                var client = new Protocol.Agent.V1.Agent.AgentClient(Invoker(ttrpc));
                var probeDeadline = DateTime.UtcNow + timeouts.Probe * Math.Min(1 + (attempts / 10), 4);
                probes.Add(client.CheckAsync(new CheckRequest(), deadline: probeDeadline, cancellationToken: boot.Token).ResponseAsync);
                var pause = Task.Delay(attempts < 20 ? 100 : 250, boot.Token);
                await Task.WhenAny(probes.Append<Task>(pause)).ConfigureAwait(false);

                var reconnect = false;
                foreach (var probe in probes.Where(p => p.IsCompleted).ToList())
                {
                    probes.Remove(probe);
                    if (probe.IsCompletedSuccessfully)
                    {
                        if (probe.Result.Status == CheckResponse.Types.ServingStatus.Serving)
                        {
                            var details = await client.GetGuestDetailsAsync(new GuestDetailsRequest(), deadline: DateTime.UtcNow + timeouts.Request, cancellationToken: boot.Token).ConfigureAwait(false);
                            LogReady(logger, clock.ElapsedMilliseconds, attempts, details.AgentVersion, details.KernelRelease, details.Transport);
                            var connection = new AgentConnection(ttrpc, timeouts.Request, details);
                            ttrpc = null;
                            return connection;
                        }

                        lastError = $"agent status {probe.Result.Status}";
                    }
                    else if (probe.Exception?.InnerException is RpcException { StatusCode: StatusCode.Unavailable } unavailable)
                    {
                        lastError = unavailable.Status.Detail;
                        reconnect = true;
                    }
                    else if (probe.Exception?.InnerException is RpcException { StatusCode: StatusCode.DeadlineExceeded })
                    {
                        lastError = "Check timed out";
                    }
                    else if (probe.Exception?.InnerException is RpcException { StatusCode: not StatusCode.Cancelled } other)
                    {
                        throw other;
                    }
                }

                if (reconnect)
                {
                    await DisposeQuietly(ttrpc).ConfigureAwait(false);
                    ttrpc = null;
                }

                LogNotReady(logger, attempts, lastError);
                await pause.ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or RpcException { StatusCode: StatusCode.Cancelled } && !cancellationToken.IsCancellationRequested)
        {
            throw new AgentException($"the agent did not answer within {timeouts.Boot.TotalSeconds:0.#} s (last error: {lastError})", e);
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.Cancelled)
        {
            throw new OperationCanceledException("waiting for the agent was cancelled", e, cancellationToken);
        }
        catch (RpcException e)
        {
            throw new AgentException($"the agent failed its readiness check: {e.Status.Detail} ({e.StatusCode})", e);
        }
        finally
        {
            await DisposeQuietly(ttrpc).ConfigureAwait(false);
            foreach (var probe in probes)
            {
                // Outstanding probes fail with Unavailable once the connection is closed; nobody waits for them.
                _ = probe.ContinueWith(static t => _ = t.Exception, TaskScheduler.Default);
            }
        }
    }

    /// <summary>
    /// Connects to an agent that is already up (a kept sandbox). A running agent answers at once, so this
    /// waits only a few seconds: on virtio-serial, a second host connection queues silently while another
    /// process holds the port, and that must fail fast rather than hang.
    /// </summary>
    public static Task<AgentConnection> ConnectAsync(AgentChannel channel, AgentTimeouts timeouts, ILogger logger, CancellationToken cancellationToken) =>
        WaitForAgentAsync(channel, timeouts with { Boot = timeouts.Dial + TimeSpan.FromSeconds(5) }, null, logger, cancellationToken);

    /// <summary>Every agent client is built on this: each call is counted and timed (<see cref="AgentRpcMetrics"/>).</summary>
    private static CallInvoker Invoker(TtrpcClient ttrpc) => new TtrpcCallInvoker(ttrpc).Intercept(AgentRpcMetrics.Process);

    private static async Task DisposeQuietly(TtrpcClient? client)
    {
        if (client is not null)
        {
            await client.DisposeAsync().ConfigureAwait(false);
        }
    }

    public async Task CreateSandboxAsync(CreateSandboxRequest request, CancellationToken cancellationToken) =>
        await Guard(Client.CreateSandboxAsync(request, deadline: Deadline, cancellationToken: cancellationToken), cancellationToken).ConfigureAwait(false);

    public async Task DestroySandboxAsync(string sandboxId, TimeSpan timeout, CancellationToken cancellationToken) =>
        await Guard(Client.DestroySandboxAsync(new DestroySandboxRequest { SandboxId = sandboxId }, deadline: DateTime.UtcNow + timeout, cancellationToken: cancellationToken), cancellationToken).ConfigureAwait(false);

    public async Task<uint> CreateContainerAsync(CreateContainerRequest request, CancellationToken cancellationToken) =>
        (await Guard(Client.CreateContainerAsync(request, deadline: Deadline, cancellationToken: cancellationToken), cancellationToken).ConfigureAwait(false)).Pid;

    public async Task<uint> StartContainerAsync(string containerId, CancellationToken cancellationToken) =>
        (await Guard(Client.StartContainerAsync(new ContainerRequest { ContainerId = containerId }, deadline: Deadline, cancellationToken: cancellationToken), cancellationToken).ConfigureAwait(false)).Pid;

    public async Task RemoveContainerAsync(string containerId, uint timeoutSeconds, CancellationToken cancellationToken) =>
        await Guard(Client.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = containerId, TimeoutSeconds = timeoutSeconds },
            deadline: Deadline + TimeSpan.FromSeconds(timeoutSeconds), cancellationToken: cancellationToken), cancellationToken).ConfigureAwait(false);

    public async Task<uint> ExecProcessAsync(string containerId, string execId, ByteString processJson, StdioOptions stdio, CancellationToken cancellationToken) =>
        (await Guard(Client.ExecProcessAsync(new ExecProcessRequest { ContainerId = containerId, ExecId = execId, ProcessJson = processJson, Stdio = stdio },
            deadline: Deadline, cancellationToken: cancellationToken), cancellationToken).ConfigureAwait(false)).Pid;

    public async Task SignalProcessAsync(string containerId, string execId, uint signal, bool all, CancellationToken cancellationToken) =>
        await Guard(Client.SignalProcessAsync(new SignalProcessRequest { ContainerId = containerId, ExecId = execId, Signal = signal, All = all },
            deadline: Deadline, cancellationToken: cancellationToken), cancellationToken).ConfigureAwait(false);

    /// <summary>Blocks until the process exits: no deadline, only the cancellation token.</summary>
    public async Task<WaitProcessResponse> WaitProcessAsync(string containerId, string execId, CancellationToken cancellationToken) =>
        AgentReplies.Validate(await Guard(Client.WaitProcessAsync(new ProcessRequest { ContainerId = containerId, ExecId = execId }, cancellationToken: cancellationToken), cancellationToken).ConfigureAwait(false),
            DateTimeOffset.UtcNow);

    /// <summary>Long-polls for output: no deadline, only the cancellation token.</summary>
    public async Task<ReadOutputResponse> ReadOutputAsync(string containerId, string execId, OutputStream stream, uint maxBytes, CancellationToken cancellationToken) =>
        AgentReplies.Validate(await Guard(Client.ReadOutputAsync(new ReadOutputRequest { ContainerId = containerId, ExecId = execId, Stream = stream, MaxBytes = maxBytes },
            cancellationToken: cancellationToken), cancellationToken).ConfigureAwait(false), maxBytes);

    public async Task<uint> WriteStdinAsync(string containerId, string execId, ByteString data, CancellationToken cancellationToken) =>
        AgentReplies.ValidateWritten((await Guard(Client.WriteStdinAsync(new WriteStdinRequest { ContainerId = containerId, ExecId = execId, Data = data },
            deadline: Deadline, cancellationToken: cancellationToken), cancellationToken).ConfigureAwait(false)).Written, data);

    public async Task CloseStdinAsync(string containerId, string execId, CancellationToken cancellationToken) =>
        await Guard(Client.CloseStdinAsync(new ProcessRequest { ContainerId = containerId, ExecId = execId }, deadline: Deadline, cancellationToken: cancellationToken), cancellationToken).ConfigureAwait(false);

    public async Task ResizeTtyAsync(string containerId, string execId, uint rows, uint columns, CancellationToken cancellationToken) =>
        await Guard(Client.ResizeTtyAsync(new ResizeTtyRequest { ContainerId = containerId, ExecId = execId, Rows = rows, Columns = columns },
            deadline: Deadline, cancellationToken: cancellationToken), cancellationToken).ConfigureAwait(false);

    public async Task<IReadOnlyList<ProcessInfo>> ListProcessesAsync(string containerId, CancellationToken cancellationToken) =>
        (await Guard(Client.ListProcessesAsync(new ContainerRequest { ContainerId = containerId }, deadline: Deadline, cancellationToken: cancellationToken), cancellationToken).ConfigureAwait(false)).Processes;

    public async Task<StatsContainerResponse> StatsContainerAsync(string containerId, CancellationToken cancellationToken) =>
        await Guard(Client.StatsContainerAsync(new ContainerRequest { ContainerId = containerId }, deadline: Deadline, cancellationToken: cancellationToken), cancellationToken).ConfigureAwait(false);

    public async Task<GuestMemoryResponse> GuestMemoryAsync(CancellationToken cancellationToken) =>
        await Guard(Client.GetGuestMemoryAsync(new GuestMemoryRequest(), deadline: Deadline, cancellationToken: cancellationToken), cancellationToken).ConfigureAwait(false);

    /// <summary>Brings the guest's offline vCPUs online until <paramref name="count"/> are (vCPU headroom, issue 10).</summary>
    public async Task<OnlineCpusResponse> OnlineCpusAsync(uint count, CancellationToken cancellationToken) =>
        await Guard(Client.OnlineCpusAsync(new OnlineCpusRequest { Count = count }, deadline: Deadline, cancellationToken: cancellationToken), cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// The one place an agent's status becomes the shared error vocabulary again. A call abandoned because
    /// the caller's token fired surfaces as ttrpc's Cancelled status; it becomes the
    /// OperationCanceledException that every other cancellable .NET call throws.
    /// </summary>
    private static async Task<T> Guard<T>(AsyncUnaryCall<T> call, CancellationToken cancellationToken)
    {
        try
        {
            return await call.ResponseAsync.ConfigureAwait(false);
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.Cancelled && cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException(e.Status.Detail, e, cancellationToken);
        }
        catch (RpcException e) when (e is not KataSharpException)
        {
            throw ErrorStatus.FromRpc(e);
        }
    }

    /// <summary>The host's wall clock as the agent wants it in CreateSandbox.</summary>
    public static Timestamp Now() => Timestamp.FromDateTime(DateTime.UtcNow);

    public ValueTask DisposeAsync() => _ttrpc.DisposeAsync();

    [LoggerMessage(Level = LogLevel.Information, Message = "agent ready after {ElapsedMs} ms ({Attempts} attempts): version {Version}, kernel {Kernel}, transport {Transport}")]
    private static partial void LogReady(ILogger logger, long elapsedMs, int attempts, string version, string kernel, string transport);

    [LoggerMessage(Level = LogLevel.Trace, Message = "agent not ready (attempt {Attempt}): {Reason}")]
    private static partial void LogNotReady(ILogger logger, int attempt, string reason);
}

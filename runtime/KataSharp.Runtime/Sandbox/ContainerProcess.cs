using Google.Protobuf;
using Grpc.Core;
using KataSharp.Protocol.Agent.V1;
using KataSharp.Runtime.Agent;
using KataSharp.Runtime.Stdio;

namespace KataSharp.Runtime.Sandbox;

/// <summary>How a container process ended. <see cref="ExitCode"/> is 128 + the signal for a signalled process.</summary>
public sealed record ProcessExitInfo(int ExitCode, DateTimeOffset ExitedAt, bool OomKilled);

/// <summary>
/// One process in a container (the init process has an empty exec id) and its stdio, which travels
/// over agent RPCs: output by ReadOutput calls that the agent answers as soon as it has bytes (one call
/// in flight per stream: a destination that is not read stops the reads, and so the process), input by
/// WriteStdin and CloseStdin. <see cref="StdioBridge"/> joins these to host streams.
/// </summary>
public sealed class ContainerProcess : IProcessStdio
{
    /// <summary>The most a single ReadOutput returns; well under ttrpc's 4 MiB message limit.</summary>
    public const uint MaxReadBytes = 1024 * 1024;

    private const int StdinChunk = 32 * 1024;
    private readonly AgentConnection _agent;

    internal ContainerProcess(AgentConnection agent, string containerId, string execId, bool terminal)
    {
        _agent = agent;
        ContainerId = containerId;
        ExecId = execId;
        Terminal = terminal;
    }

    public string ContainerId { get; }
    public string ExecId { get; }
    public bool Terminal { get; }

    /// <summary>Waits for the process to exit (no deadline: bounded by <paramref name="cancellationToken"/>).</summary>
    public async Task<ProcessExitInfo> WaitAsync(CancellationToken cancellationToken)
    {
        try
        {
            var result = await _agent.WaitProcessAsync(ContainerId, ExecId, cancellationToken).ConfigureAwait(false);
            return new ProcessExitInfo(result.ExitStatus, result.ExitedAt?.ToDateTimeOffset() ?? DateTimeOffset.UtcNow, result.OomKilled);
        }
        catch (RpcException e) when (e.StatusCode != StatusCode.Cancelled)
        {
            throw SandboxException.FromRpc($"waiting for {Name}", e);
        }
    }

    public async Task SignalAsync(int signal, bool all, CancellationToken cancellationToken)
    {
        try
        {
            await _agent.SignalProcessAsync(ContainerId, ExecId, (uint)signal, all, cancellationToken).ConfigureAwait(false);
        }
        catch (RpcException e) when (e.StatusCode != StatusCode.Cancelled)
        {
            throw SandboxException.FromRpc($"signalling {Name}", e);
        }
    }

    public async Task ResizeAsync(uint rows, uint columns, CancellationToken cancellationToken)
    {
        try
        {
            await _agent.ResizeTtyAsync(ContainerId, ExecId, rows, columns, cancellationToken).ConfigureAwait(false);
        }
        catch (RpcException e) when (e.StatusCode != StatusCode.Cancelled)
        {
            throw SandboxException.FromRpc($"resizing the terminal of {Name}", e);
        }
    }

    public Task PumpOutputAsync(OutputStream stream, Stream destination, CancellationToken cancellationToken) =>
        PumpOutputAsync(stream, destination, null, cancellationToken);

    /// <summary>
    /// Copies one output stream to <paramref name="destination"/> until the agent reports EOF,
    /// flushing after every chunk so that output appears live. <paramref name="onData"/> runs on every chunk.
    /// </summary>
    public async Task PumpOutputAsync(OutputStream stream, Stream destination, Action? onData, CancellationToken cancellationToken)
    {
        var backoff = new EmptyReadBackoff();
        while (true)
        {
            ReadOutputResponse chunk;
            try
            {
                chunk = await _agent.ReadOutputAsync(ContainerId, ExecId, stream, MaxReadBytes, cancellationToken).ConfigureAwait(false);
            }
            catch (RpcException e) when (e.StatusCode != StatusCode.Cancelled)
            {
                throw SandboxException.FromRpc($"reading {stream} of {Name}", e);
            }

            if (!chunk.Data.IsEmpty)
            {
                onData?.Invoke();
                await destination.WriteAsync(chunk.Data.Memory, cancellationToken).ConfigureAwait(false);
                await destination.FlushAsync(cancellationToken).ConfigureAwait(false);
            }

            if (chunk.Eof)
            {
                return;
            }

            if (chunk.Data.IsEmpty)
            {
                await Task.Delay(backoff.Empty(), cancellationToken).ConfigureAwait(false);
            }
            else
            {
                backoff.Data();
            }
        }
    }

    /// <summary>Copies <paramref name="source"/> to the process's stdin, then closes it at EOF.</summary>
    public async Task ForwardStdinAsync(Stream source, CancellationToken cancellationToken)
    {
        var buffer = new byte[StdinChunk];
        try
        {
            while (true)
            {
                var n = await source.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
                if (n == 0)
                {
                    break;
                }

                var data = ByteString.CopyFrom(buffer, 0, n);
                while (!data.IsEmpty)
                {
                    var written = (int)await _agent.WriteStdinAsync(ContainerId, ExecId, data, cancellationToken).ConfigureAwait(false);
                    if (written <= 0)
                    {
                        throw new SandboxException(SandboxErrorCode.Internal, $"the agent accepted no stdin for {Name}");
                    }

                    data = written >= data.Length ? ByteString.Empty : ByteString.CopyFrom(data.Span[written..]);
                }
            }

            await _agent.CloseStdinAsync(ContainerId, ExecId, cancellationToken).ConfigureAwait(false);
        }
        catch (RpcException e) when (e.StatusCode != StatusCode.Cancelled)
        {
            throw SandboxException.FromRpc($"writing stdin of {Name}", e);
        }
    }

    /// <summary>Closes the process's stdin, so that it reads EOF.</summary>
    public async Task CloseStdinAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _agent.CloseStdinAsync(ContainerId, ExecId, cancellationToken).ConfigureAwait(false);
        }
        catch (RpcException e) when (e.StatusCode != StatusCode.Cancelled)
        {
            throw SandboxException.FromRpc($"closing stdin of {Name}", e);
        }
    }

    private string Name => ExecId.Length == 0 ? $"container {ContainerId}" : $"exec {ExecId} in container {ContainerId}";
}

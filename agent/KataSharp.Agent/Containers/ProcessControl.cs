using System.Globalization;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using KataSharp.Native;
using KataSharp.Agent.Stats;
using KataSharp.Protocol.Agent.V1;

namespace KataSharp.Agent.Containers;

/// <summary>Signals, waits, stdio and inspection of the processes of running containers.</summary>
internal sealed class ProcessControl
{
    public const int DefaultReadBytes = 512 * 1024;

    /// <summary>Keeps a ReadOutput answer well below ttrpc's 4 MiB frame limit.</summary>
    public const int MaxReadBytes = 3 * 1024 * 1024;

    private const int MaxSignal = 64;

    private readonly ContainerRegistry _registry;
    private readonly ICrun _crun;

    public ProcessControl(ContainerRegistry registry, ICrun crun)
    {
        _registry = registry;
        _crun = crun;
    }

    public async Task SignalAsync(SignalProcessRequest request, CancellationToken cancellationToken)
    {
        var process = _registry.GetProcess(request.ContainerId, request.ExecId);
        if (request.Signal > MaxSignal)
        {
            throw AgentErrors.InvalidArgument($"signal {request.Signal} is out of range");
        }

        if (request.All)
        {
            var container = _registry.Get(request.ContainerId);
            if (container.Init!.HasExited)
            {
                throw AgentErrors.NotFound($"container {request.ContainerId} has no running processes");
            }

            await _crun.KillAsync(request.ContainerId, (int)request.Signal, all: true, cancellationToken).ConfigureAwait(false);
            return;
        }

        // Once reaped, the pid may belong to someone else: never signal it.
        if (process.HasExited || !SystemCalls.Kill(process.Pid, (int)request.Signal))
        {
            throw AgentErrors.NotFound($"process {Describe(request.ContainerId, request.ExecId)} has already exited");
        }
    }

    public async Task<WaitProcessResponse> WaitAsync(ProcessRequest request, CancellationToken cancellationToken)
    {
        var process = _registry.GetProcess(request.ContainerId, request.ExecId);
        var exit = await process.Exit.WaitAsync(cancellationToken).ConfigureAwait(false);
        var cgroup = _registry.Get(request.ContainerId).CgroupDir;
        return new WaitProcessResponse
        {
            ExitStatus = exit.ExitStatus,
            ExitedAt = Timestamp.FromDateTimeOffset(exit.ExitedAt),
            OomKilled = OomVerdict.Killed(process.ExecId.Length == 0, exit.KilledBySignal(Linux.SIGKILL), process.OomKillsAtStart, CgroupStatsReader.ReadOomKills(cgroup)),
        };
    }

    public async Task<uint> WriteStdinAsync(WriteStdinRequest request, CancellationToken cancellationToken)
    {
        var process = _registry.GetProcess(request.ContainerId, request.ExecId);
        var stdin = process.Io.Stdin
            ?? throw AgentErrors.FailedPrecondition($"process {Describe(request.ContainerId, request.ExecId)} was created without stdin");
        try
        {
            return request.Data.IsEmpty ? 0 : (uint)await stdin.WriteAsync(request.Data.Memory, cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidOperationException e)
        {
            // Stdin was closed, by a CloseStdin or by the process: the caller's mistake, not the agent failing.
            throw AgentErrors.FailedPrecondition($"process {Describe(request.ContainerId, request.ExecId)}: {e.Message}");
        }
    }

    public Task CloseStdinAsync(ProcessRequest request, CancellationToken cancellationToken)
    {
        var process = _registry.GetProcess(request.ContainerId, request.ExecId);
        return process.Io.Stdin?.CloseAsync(cancellationToken) ?? Task.CompletedTask;
    }

    public async Task<ReadOutputResponse> ReadOutputAsync(ReadOutputRequest request, CancellationToken cancellationToken)
    {
        var process = _registry.GetProcess(request.ContainerId, request.ExecId);
        if (request.Stream is not (OutputStream.Stdout or OutputStream.Stderr))
        {
            throw AgentErrors.InvalidArgument($"unknown output stream {request.Stream}");
        }

        var max = request.MaxBytes == 0 ? DefaultReadBytes : (int)Math.Min(request.MaxBytes, MaxReadBytes);
        var chunk = await process.Io.Output(request.Stream).ReadAsync(max, cancellationToken).ConfigureAwait(false);
        return chunk.Piped is { } piped
            ? new ReadOutputResponse { TrailingData = piped }
            : new ReadOutputResponse { Data = UnsafeByteOperations.UnsafeWrap(chunk.Data), Eof = chunk.EndOfStream };
    }

    public void ResizeTty(ResizeTtyRequest request)
    {
        var process = _registry.GetProcess(request.ContainerId, request.ExecId);
        if (!process.Io.IsTerminal)
        {
            throw AgentErrors.FailedPrecondition($"process {Describe(request.ContainerId, request.ExecId)} has no terminal");
        }

        if (process.HasExited)
        {
            throw AgentErrors.NotFound($"process {Describe(request.ContainerId, request.ExecId)} has already exited");
        }

        process.Io.Resize(request.Rows, request.Columns);
    }

    public ListProcessesResponse ListProcesses(string containerId)
    {
        var container = _registry.Get(containerId);
        var execByPid = container.Execs.Values.Where(p => p is { HasExited: false }).ToDictionary(p => p!.Pid, p => p!.ExecId);
        var pids = ReadCgroupProcs(container.CgroupDir);
        if (pids.Count == 0 && container.Init is { HasExited: false } init)
        {
            // No cgroup to read (a host in developer mode): report what the agent itself started.
            pids = [init.Pid, .. execByPid.Keys];
        }

        var response = new ListProcessesResponse();
        foreach (var pid in pids.Distinct().Order())
        {
            response.Processes.Add(new ProcessInfo
            {
                Pid = (uint)pid,
                ExecId = execByPid.GetValueOrDefault(pid, string.Empty),
                Command = ReadCommandLine(pid),
            });
        }

        return response;
    }

    public StatsContainerResponse Stats(string containerId) => CgroupStatsReader.Read(_registry.Get(containerId).CgroupDir);

    private static List<int> ReadCgroupProcs(string? cgroupDir)
    {
        var pids = new List<int>();
        if (cgroupDir is null || !Directory.Exists(cgroupDir))
        {
            return pids;
        }

        // crun may place processes in child cgroups; walk the whole subtree.
        foreach (var file in Directory.EnumerateFiles(cgroupDir, "cgroup.procs", SearchOption.AllDirectories))
        {
            try
            {
                foreach (var line in File.ReadAllLines(file))
                {
                    if (int.TryParse(line, NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
                    {
                        pids.Add(pid);
                    }
                }
            }
            catch (IOException)
            {
                // The cgroup went away while we read it.
            }
        }

        return pids;
    }

    internal static string ReadCommandLine(int pid)
    {
        try
        {
            var raw = File.ReadAllBytes($"/proc/{pid}/cmdline");
            return System.Text.Encoding.UTF8.GetString(raw).TrimEnd('\0').Replace('\0', ' ');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return string.Empty;
        }
    }

    private static string Describe(string containerId, string execId) => execId.Length == 0 ? containerId : $"{containerId}/{execId}";
}

using KataSharp.Agent.Processes;
using KataSharp.Agent.Stats;
using KataSharp.Protocol.Agent.V1;
using Microsoft.Extensions.Logging;

namespace KataSharp.Agent.Containers;

/// <summary>Starts extra processes in a running container with crun exec --detach.</summary>
internal sealed partial class ExecLauncher
{
    /// <summary>Exited execs kept per container for late WaitProcess/ReadOutput calls; older ones are forgotten.</summary>
    internal const int MaxExitedExecs = 128;

    private static readonly TimeSpan ConsoleTimeout = TimeSpan.FromSeconds(10);

    private readonly ContainerRegistry _registry;
    private readonly ICrun _crun;
    private readonly ChildReaper _reaper;
    private readonly AgentOptions _options;
    private readonly ILogger _logger;

    public ExecLauncher(ContainerRegistry registry, ICrun crun, ChildReaper reaper, AgentOptions options, ILogger<ExecLauncher> logger)
    {
        _registry = registry;
        _crun = crun;
        _reaper = reaper;
        _options = options;
        _logger = logger;
    }

    public async Task<int> ExecAsync(ExecProcessRequest request, CancellationToken cancellationToken)
    {
        var container = _registry.Get(request.ContainerId);
        Ids.Require(request.ExecId, "exec_id");
        var stdio = request.Stdio ?? new StdioOptions();
        var process = SpecTranslator.TranslateProcess(request.ProcessJson.Span, stdio.Terminal);
        if (container.State is not (ContainerState.Running or ContainerState.Created) || container.IsRemoving)
        {
            throw AgentErrors.FailedPrecondition($"container {container.Id} is {container.State.ToString().ToLowerInvariant()}; exec needs it running");
        }

        if (!container.Execs.TryAdd(request.ExecId, null))
        {
            throw AgentErrors.AlreadyExists($"exec {request.ExecId} already exists in container {container.Id}");
        }

        var processFile = Path.Combine(container.BundleDir, $"exec-{request.ExecId}.json");
        var pidFile = Path.Combine(container.BundleDir, $"exec-{request.ExecId}.pid");
        var logFile = Path.Combine(container.BundleDir, $"exec-{request.ExecId}.log");
        ProcessIo? io = null;
        try
        {
            File.Delete(pidFile);
            await File.WriteAllTextAsync(processFile, process.ToJsonString(), cancellationToken).ConfigureAwait(false);
            var oomKills = CgroupStatsReader.ReadOomKills(container.CgroupDir);
            if (stdio.Terminal)
            {
                using var console = ConsoleSocket.Create(_options.ConsoleSocketsDir);
                await _crun.ExecWithConsoleAsync(container.Id, processFile, pidFile, console.Path, cancellationToken).ConfigureAwait(false);
                var master = await console.ReceiveMasterAsync(ConsoleTimeout, cancellationToken).ConfigureAwait(false);
                io = ProcessIo.ForTerminal(master, stdio, $"{container.Id}/{request.ExecId}");
            }
            else
            {
                io = ProcessIo.CreatePipes(stdio, $"{container.Id}/{request.ExecId}");
                await _crun.ExecWithStdioAsync(container.Id, processFile, pidFile, logFile, io.ChildFds, cancellationToken).ConfigureAwait(false);
                io.CloseChildEnds();
            }

            var pid = ContainerLifecycle.ReadPidFile(pidFile);
            var exec = new ContainerProcess(container.Id, request.ExecId, pid, io, _reaper.Adopt(pid), oomKills);
            io.StartPumps(_logger);
            container.Execs[request.ExecId] = exec;
            ForgetOldExecs(container);
            LogExecStarted(_logger, container.Id, request.ExecId, pid);
            return pid;
        }
        catch (Exception e)
        {
            io?.Dispose();
            container.Execs.TryRemove(request.ExecId, out _);
            if (CrunExecFailure.For(e, process) is { } failure)
            {
                throw failure;
            }

            throw;
        }
        finally
        {
            File.Delete(processFile);
            File.Delete(pidFile);
            File.Delete(logFile);
        }
    }

    /// <summary>
    /// There is no RPC to delete an exec, so exited ones are forgotten oldest first once a
    /// container has more than <see cref="MaxExitedExecs"/> (CRI probes exec often).
    /// </summary>
    private static void ForgetOldExecs(Container container)
    {
        var exited = container.Execs.Values
            .Where(p => p is { HasExited: true })
            .Select(p => p!)
            .OrderBy(p => p.Exit.Result.ExitedAt)
            .ToList();
        foreach (var old in exited.Take(Math.Max(0, exited.Count - MaxExitedExecs)))
        {
            container.Execs.TryRemove(old.ExecId, out _);
            old.Io.Dispose();
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "container {ContainerId}: exec {ExecId} started, pid {Pid}")]
    private static partial void LogExecStarted(ILogger logger, string containerId, string execId, int pid);
}

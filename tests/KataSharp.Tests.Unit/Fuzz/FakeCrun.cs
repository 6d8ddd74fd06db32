using System.Collections.Concurrent;
using System.Globalization;
using KataSharp.Agent.Containers;
using KataSharp.Agent.Processes;
using KataSharp.Native;

namespace KataSharp.Tests.Unit.Fuzz;

/// <summary>
/// crun for a fuzzed agent: no process is ever started. Containers and execs get pids above the kernel's
/// PID_MAX_LIMIT, so a kill(2) the agent sends them can reach no real process (ESRCH); SIGKILL and SIGTERM
/// make them "exit" through the reaper, as a real init would. Terminals are refused, as by a guest without ptys.
/// </summary>
internal sealed class FakeCrun(ChildReaper reaper) : ICrun
{
    private const int FirstPid = 1 << 23;

    private readonly ConcurrentDictionary<string, ConcurrentBag<int>> _pids = new(StringComparer.Ordinal);
    private int _nextPid = FirstPid;

    public Task CreateWithStdioAsync(string id, string bundle, string pidFile, (int Stdin, int Stdout, int Stderr) stdio, CancellationToken cancellationToken)
    {
        if (!_pids.TryAdd(id, []))
        {
            throw new CrunException("create", $"fake crun: container {id} already exists");
        }

        return WritePidAsync(id, pidFile, cancellationToken);
    }

    public Task CreateWithConsoleAsync(string id, string bundle, string pidFile, string consoleSocket, CancellationToken cancellationToken) =>
        throw new CrunException("create", "fake crun: no terminals in a fuzzed guest");

    public Task StartAsync(string id, CancellationToken cancellationToken) => Known(id, "start");

    public Task KillAsync(string id, int signal, bool all, CancellationToken cancellationToken)
    {
        if (!_pids.TryGetValue(id, out var pids))
        {
            throw new CrunException("kill", $"fake crun: container {id} does not exist");
        }

        if (signal is Linux.SIGKILL or Linux.SIGTERM)
        {
            foreach (var pid in pids)
            {
                reaper.Dispatch(pid, signal, DateTimeOffset.UtcNow);
            }
        }

        return Task.CompletedTask;
    }

    public Task DeleteAsync(string id, CancellationToken cancellationToken)
    {
        if (_pids.TryRemove(id, out var pids))
        {
            foreach (var pid in pids)
            {
                reaper.Dispatch(pid, Linux.SIGKILL, DateTimeOffset.UtcNow);
            }
        }

        return Task.CompletedTask;
    }

    public Task PauseAsync(string id, CancellationToken cancellationToken) => Known(id, "pause");

    public Task ResumeAsync(string id, CancellationToken cancellationToken) => Known(id, "resume");

    public Task UpdateAsync(string id, string resourcesFile, CancellationToken cancellationToken) => Known(id, "update");

    public Task ExecWithStdioAsync(string id, string processFile, string pidFile, string log, (int Stdin, int Stdout, int Stderr) stdio,
        CancellationToken cancellationToken)
    {
        if (!_pids.ContainsKey(id))
        {
            throw new CrunException("exec", $"fake crun: container {id} does not exist");
        }

        return WritePidAsync(id, pidFile, cancellationToken);
    }

    public Task ExecWithConsoleAsync(string id, string processFile, string pidFile, string consoleSocket, CancellationToken cancellationToken) =>
        throw new CrunException("exec", "fake crun: no terminals in a fuzzed guest");

    /// <summary>Containers crun still knows: what a real crun's state directory would list.</summary>
    public int Count => _pids.Count;

    private Task WritePidAsync(string id, string pidFile, CancellationToken cancellationToken)
    {
        var pid = Interlocked.Increment(ref _nextPid);
        _pids[id].Add(pid);
        return File.WriteAllTextAsync(pidFile, pid.ToString(CultureInfo.InvariantCulture), cancellationToken);
    }

    private Task Known(string id, string operation) =>
        _pids.ContainsKey(id) ? Task.CompletedTask : throw new CrunException(operation, $"fake crun: container {id} does not exist");
}

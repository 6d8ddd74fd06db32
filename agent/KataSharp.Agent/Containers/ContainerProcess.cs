using KataSharp.Agent.Processes;

namespace KataSharp.Agent.Containers;

/// <summary>A process the agent started in a container: its init (empty exec id) or an exec.</summary>
internal sealed class ContainerProcess
{
    public ContainerProcess(string containerId, string execId, int pid, ProcessIo io, Task<ProcessExit> exit, ulong oomKillsAtStart)
    {
        ContainerId = containerId;
        ExecId = execId;
        Pid = pid;
        Io = io;
        Exit = exit;
        OomKillsAtStart = oomKillsAtStart;
    }

    public string ContainerId { get; }

    public string ExecId { get; }

    public int Pid { get; }

    public ProcessIo Io { get; }

    /// <summary>Completes when the reaper collected the process.</summary>
    public Task<ProcessExit> Exit { get; }

    /// <summary>The cgroup's oom_kill count when the process started, to tell an OOM kill from a plain SIGKILL.</summary>
    public ulong OomKillsAtStart { get; }

    public bool HasExited => Exit.IsCompleted;
}

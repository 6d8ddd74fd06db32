namespace KataSharp.Native.Processes;

/// <summary>What to start: an absolute program path with its argv, how its fds are set up, and where it runs.</summary>
public sealed record SpawnRequest(IReadOnlyList<string> Argv)
{
    /// <summary>A child whose fds 0, 1 and 2 are the given fds of this process.</summary>
    public SpawnRequest(IReadOnlyList<string> argv, int stdin, int stdout, int stderr)
        : this(argv)
    {
        FileActions = [new SpawnFileAction.Duplicate(stdin, 0), new SpawnFileAction.Duplicate(stdout, 1), new SpawnFileAction.Duplicate(stderr, 2)];
    }

    /// <summary>Applied in order in the child before it execs; fds not named keep their close-on-exec flag.</summary>
    public IReadOnlyList<SpawnFileAction> FileActions { get; init; } = [];

    /// <summary>Run the child in a session of its own, so terminal signals for this process never reach it.</summary>
    public bool NewSession { get; init; }

    /// <summary>The child's environment; null means a minimal PATH only.</summary>
    public IReadOnlyList<string>? Environment { get; init; }

    /// <summary>A network namespace file (/var/run/netns/x, /proc/PID/ns/net) to start the child in; null for ours.</summary>
    public string? NetworkNamespacePath { get; init; }
}

/// <summary>One posix_spawn file action.</summary>
public abstract record SpawnFileAction
{
    private SpawnFileAction()
    {
    }

    /// <summary>dup2(<paramref name="Source"/>, <paramref name="Target"/>) in the child.</summary>
    public sealed record Duplicate(int Source, int Target) : SpawnFileAction;

    /// <summary>open(<paramref name="Path"/>, <paramref name="Flags"/>, <paramref name="Mode"/>) as fd <paramref name="Target"/> in the child.</summary>
    public sealed record Open(int Target, string Path, int Flags, uint Mode = 0) : SpawnFileAction;
}

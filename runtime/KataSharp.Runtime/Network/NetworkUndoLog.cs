namespace KataSharp.Runtime.Network;

/// <summary>
/// The steps that undo what a set-up has done so far, in the order they were done. A step is logged before the
/// command that needs it runs: a command that timed out may still have taken effect, and undoing something
/// that is not there is harmless (<see cref="UndoStep.MeansAlreadyGone"/>).
/// </summary>
public sealed class NetworkUndoLog
{
    private readonly List<UndoStep> _steps = [];
    private readonly Action<IReadOnlyList<UndoStep>>? _persist;
    private readonly Lock _lock = new();

    /// <param name="persist">Called with the whole log after each change, e.g. to keep network.json current.</param>
    public NetworkUndoLog(Action<IReadOnlyList<UndoStep>>? persist = null) => _persist = persist;

    /// <summary>A copy of the steps so far.</summary>
    public IReadOnlyList<UndoStep> Steps
    {
        get
        {
            lock (_lock)
            {
                return [.. _steps];
            }
        }
    }

    /// <summary>Logs a step; safe from set-up branches that run side by side, and persisted before it returns.</summary>
    public void Add(UndoStep step)
    {
        lock (_lock)
        {
            _steps.Add(step);
            _persist?.Invoke(_steps);
        }
    }
}

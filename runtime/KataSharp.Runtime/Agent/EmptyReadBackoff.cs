namespace KataSharp.Runtime.Agent;

/// <summary>
/// ReadOutput is a long poll: the agent answers with data or EOF. An agent that answers empty again and
/// again would make the host spin on it, so each empty answer in a row waits twice as long as the last
/// (from <see cref="Initial"/> up to <see cref="Max"/>), and any data resets the wait.
/// </summary>
internal sealed class EmptyReadBackoff
{
    public static readonly TimeSpan Initial = TimeSpan.FromMilliseconds(10);
    public static readonly TimeSpan Max = TimeSpan.FromSeconds(1);

    private TimeSpan _next = TimeSpan.Zero;

    /// <summary>The wait before the next read, after an empty answer.</summary>
    public TimeSpan Empty()
    {
        _next = _next == TimeSpan.Zero ? Initial : TimeSpan.FromTicks(Math.Min(_next.Ticks * 2, Max.Ticks));
        return _next;
    }

    public void Data() => _next = TimeSpan.Zero;
}

namespace KataSharp.Tests.EndToEnd.Behaviour;

// Owned by the helper "io": exec and attach with and without a tty, CRI log tagging.
public static class IoChecks
{
    public static IReadOnlyList<BehaviourCheck> All { get; } =
    [
    ];
}

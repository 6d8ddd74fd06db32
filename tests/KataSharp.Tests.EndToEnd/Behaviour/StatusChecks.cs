namespace KataSharp.Tests.EndToEnd.Behaviour;

// Owned by the helper "stats": container status, stats and resources.
public static class StatusChecks
{
    public static IReadOnlyList<BehaviourCheck> All { get; } =
    [
    ];
}

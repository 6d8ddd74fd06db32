namespace KataSharp.Tests.EndToEnd.Behaviour;

// Owned by the helper "pfwd": port-forward, ExecSync timeout.
public static class StreamingChecks
{
    public static IReadOnlyList<BehaviourCheck> All { get; } =
    [
    ];
}

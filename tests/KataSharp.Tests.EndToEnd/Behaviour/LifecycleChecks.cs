namespace KataSharp.Tests.EndToEnd.Behaviour;

// Owned by the helper "mounts": restarts in a pod, idempotent stop and remove, NotFound.
public static class LifecycleChecks
{
    public static IReadOnlyList<BehaviourCheck> All { get; } =
    [
    ];
}

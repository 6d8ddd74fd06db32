namespace KataSharp.Tests.EndToEnd.Behaviour;

// Owned by the helper "mounts": hostPath volumes, /etc files from CRI, propagation.
public static class MountChecks
{
    public static IReadOnlyList<BehaviourCheck> All { get; } =
    [
    ];
}

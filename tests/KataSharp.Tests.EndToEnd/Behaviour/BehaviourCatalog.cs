namespace KataSharp.Tests.EndToEnd.Behaviour;

/// <summary>Every check of the behaviour suite, area by area. Each area file has one owner and is edited only there.</summary>
public static class BehaviourCatalog
{
    public static IReadOnlyList<BehaviourCheck> All { get; } =
    [
        .. SecurityContextChecks.All,
        .. MountChecks.All,
        .. LifecycleChecks.All,
        .. StatusChecks.All,
        .. StreamingChecks.All,
        .. IoChecks.All,
    ];

    /// <summary>The checks whose name contains <c>KATASHARP_CHECKS</c> (all of them when it is unset), to iterate on a few.</summary>
    public static IReadOnlyList<BehaviourCheck> Selected()
    {
        var filter = Environment.GetEnvironmentVariable("KATASHARP_CHECKS");
        return string.IsNullOrEmpty(filter) ? All : All.Where(c => c.Name.Contains(filter, StringComparison.Ordinal)).ToList();
    }
}

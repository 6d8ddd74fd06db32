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

    /// <summary>
    /// The checks whose name contains one of the comma-separated strings of <c>KATASHARP_CHECKS</c> (all of them when
    /// it is unset), to iterate on a few.
    /// </summary>
    public static IReadOnlyList<BehaviourCheck> Selected()
    {
        var filters = (Environment.GetEnvironmentVariable("KATASHARP_CHECKS") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return filters.Length == 0 ? All : All.Where(c => filters.Any(f => c.Name.Contains(f, StringComparison.Ordinal))).ToList();
    }
}

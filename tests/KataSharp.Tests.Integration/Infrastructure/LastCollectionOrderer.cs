using Xunit.Abstractions;

[assembly: CollectionBehavior(DisableTestParallelization = true)]
[assembly: TestCollectionOrderer("KataSharp.Tests.Integration.Infrastructure.LastCollectionOrderer", "KataSharp.Tests.Integration")]

namespace KataSharp.Tests.Integration.Infrastructure;

/// <summary>
/// Runs the collections one at a time (VMs under TCG on two cores are slow enough without competing),
/// in the order of their names, and always ends with <see cref="LastCollectionOrderer.LastCollectionName"/>:
/// the check that the whole run left nothing behind. xunit disposes a collection's fixtures when
/// the collection ends, so by then the shared sandbox is gone too.
/// </summary>
public sealed class LastCollectionOrderer : ITestCollectionOrderer
{
    public const string LastCollectionName = "zz nothing left behind";

    public IEnumerable<ITestCollection> OrderTestCollections(IEnumerable<ITestCollection> testCollections) =>
        testCollections
            .OrderBy(c => c.DisplayName == LastCollectionName ? 1 : 0)
            .ThenBy(c => c.DisplayName, StringComparer.Ordinal)
            .ToList();
}

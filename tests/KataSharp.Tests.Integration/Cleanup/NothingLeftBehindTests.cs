using KataSharp.Tests.Integration.Infrastructure;

namespace KataSharp.Tests.Integration.Cleanup;

[CollectionDefinition(LastCollectionOrderer.LastCollectionName)]
public sealed class NothingLeftBehindCollection;

/// <summary>
/// Runs after every other collection (see <see cref="LastCollectionOrderer"/>), when every fixture has
/// been disposed: the whole run must have left no QEMU, katasharp process, mount, socket or sandbox
/// directory of its own. Whatever it finds is removed, so that the machine stays clean, and then reported as a failure.
/// </summary>
[Collection(LastCollectionOrderer.LastCollectionName)]
public sealed class NothingLeftBehindTests
{
    [Fact]
    public void Nothing_of_the_run_remains_after_the_suite()
    {
        TestEnvironment.RequirePrerequisites();
        var state = TestEnvironment.StateDirectory;
        var leftovers = Leftovers.Find(state).Concat(Leftovers.MountPointsUnder(TestEnvironment.WorkDirectory).Select(m => $"mount: {m}")).ToList();
        // Clean up either way (the state directory and the tests' scratch files), then report.
        Leftovers.CleanUp(state, TestEnvironment.WorkDirectory);

        Assert.True(leftovers.Count == 0, $"the test run left {leftovers.Count} thing(s) behind in {state}:\n{string.Join('\n', leftovers)}");
    }
}

using KataSharp.Runtime.Configuration;
using KataSharp.Runtime.Hypervisors;
using KataSharp.Runtime.Sandbox;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace KataSharp.Tests.Unit.Runtime;

/// <summary>gc removes sandboxes nobody owns whose VM is gone, and nothing else.</summary>
public sealed class SandboxGarbageCollectorTests : IDisposable
{
    private readonly string _stateDir = Path.Combine(Directory.CreateTempSubdirectory("ks-gc-").FullName, "state");
    private readonly SandboxManager _manager;

    public SandboxGarbageCollectorTests() =>
        _manager = new SandboxManager(new KataSharpConfig { Runtime = new RuntimeSection { StateDir = _stateDir } }, NullLoggerFactory.Instance);

    public void Dispose() => Directory.Delete(Path.GetDirectoryName(_stateDir)!, recursive: true);

    private GarbageReport Collect() => new SandboxGarbageCollector(_manager, NullLogger.Instance).CollectAsync(CancellationToken.None).GetAwaiter().GetResult();

    private SandboxPaths Sandbox(string id, int pid = 0, long startTime = 0)
    {
        var paths = _manager.PathsFor(id);
        SandboxClaim.Claim(_stateDir, paths, new SandboxState { Id = id, Pid = pid, PidStartTime = startTime });
        File.WriteAllText(paths.ConsoleLog, "console");
        return paths;
    }

    [Fact]
    public void A_sandbox_without_owner_or_VM_is_removed()
    {
        var dead = Sandbox("dead");
        // A pid that is alive but started at another time is a reused pid, not the VM.
        var reused = Sandbox("reused", Environment.ProcessId, ProcessIdentity.Of(Environment.ProcessId)!.Value.StartTime + 1);

        var report = Collect();

        Assert.Equal(["dead", "reused"], report.Removed.Order());
        Assert.False(Directory.Exists(dead.Directory));
        Assert.False(Directory.Exists(reused.Directory));
    }

    [Fact]
    public async Task An_owned_sandbox_is_kept_even_with_its_VM_gone()
    {
        var paths = Sandbox("owned");
        using (var owner = await SandboxOwnerLock.TryTakeAsync(paths.Directory, CancellationToken.None))
        {
            Assert.NotNull(owner);
            var report = Collect();
            Assert.Equal(["owned"], report.Kept);
            Assert.Empty(report.Removed);
            Assert.True(File.Exists(paths.ConsoleLog));
        }

        // Its owner gone, it is stale.
        Assert.Equal(["owned"], Collect().Removed);
    }

    [Fact]
    public void A_kept_sandbox_whose_VM_runs_is_kept()
    {
        var me = ProcessIdentity.Of(Environment.ProcessId)!.Value;
        var paths = Sandbox("kept", me.Pid, me.StartTime);

        var report = Collect();

        Assert.Equal(["kept"], report.Kept);
        Assert.True(File.Exists(paths.ConsoleLog));
    }

    [Fact]
    public void A_directory_without_state_is_being_created_and_is_kept()
    {
        var paths = _manager.PathsFor("creating");
        Directory.CreateDirectory(paths.Directory);

        Assert.Equal(["creating"], Collect().Kept);
        Assert.True(Directory.Exists(paths.Directory));
    }

    [Fact]
    public async Task While_gc_holds_a_stale_sandbox_its_id_cannot_be_owned_by_a_create()
    {
        var paths = Sandbox("busy");
        using var gc = await SandboxOwnerLock.TryTakeAsync(paths.Directory, CancellationToken.None);
        Assert.NotNull(gc);
        Assert.Null(await SandboxOwnerLock.TryTakeAsync(paths.Directory, CancellationToken.None));
    }
}

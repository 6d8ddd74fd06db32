using KataSharp.Shim.HostCgroup;
using Microsoft.Extensions.Logging;

namespace KataSharp.Tests.Unit.HostCgroup;

/// <summary>Joining and leaving the pod's host cgroup, over directory trees that stand in for the mounted hierarchies.</summary>
public sealed class HostPodCgroupTests : IDisposable
{
    private const int Pid = 4242;
    private readonly string _root = Directory.CreateTempSubdirectory("ks-cgroup-").FullName;
    private readonly MessageLogger _logger = new();

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task TheShimJoinsTheLeafInEveryHierarchyAndLeavesBackToWhereItWasRemovingOnlyTheLeaf()
    {
        var hierarchies = new[] { Hierarchy("memory", false, "/sessions/1"), Hierarchy("unified", true, "/sessions/1") };
        File.WriteAllText(Path.Combine(_root, "unified", "cgroup.controllers"), "cpu memory pids io");

        var joined = Assert.IsType<CgroupfsPodCgroup>(await JoinAsync("/ks-parent/pod1", hierarchies));

        var leaves = new[] { Path.Combine(_root, "memory", "ks-parent", "pod1"), Path.Combine(_root, "unified", "ks-parent", "pod1") };
        Assert.Equal(leaves, joined.Leaves);
        Assert.All(leaves, l => Assert.Equal($"{Pid}", File.ReadAllText(Path.Combine(l, "cgroup.procs"))));
        // A plain file keeps only the last write: every controller is asked for, io last, and only on v2.
        Assert.Equal("+io", File.ReadAllText(Path.Combine(_root, "unified", "ks-parent", "cgroup.subtree_control")));
        Assert.False(File.Exists(Path.Combine(_root, "memory", "ks-parent", "cgroup.subtree_control")));
        Assert.Contains(_logger.Messages, m => m.Contains("joined", StringComparison.Ordinal) && m.Contains(leaves[0], StringComparison.Ordinal));

        // The kernel empties a cgroup.procs as its processes leave; the stand-in file must go for the rmdir.
        Array.ForEach(leaves, l => File.Delete(Path.Combine(l, "cgroup.procs")));
        await joined.LeaveAsync();

        Assert.All(leaves, l => Assert.False(Directory.Exists(l)));
        Assert.All(hierarchies, h => Assert.Equal($"{Pid}", File.ReadAllText(Path.Combine(h.Directory(h.Origin), "cgroup.procs"))));
        Assert.True(Directory.Exists(Path.Combine(_root, "memory", "ks-parent")));
    }

    [Fact]
    public async Task WhereTheShimCameFromHasGoneItLeavesToTheRoot()
    {
        var memory = Hierarchy("memory", false, "/sessions/1");
        var joined = Assert.IsType<CgroupfsPodCgroup>(await JoinAsync("/pod1", [memory]));
        Directory.Delete(memory.Directory("/sessions/1"), recursive: true);
        File.Delete(Path.Combine(joined.Leaves[0], "cgroup.procs"));

        await joined.LeaveAsync();

        Assert.Equal($"{Pid}", File.ReadAllText(Path.Combine(memory.MountPoint, "cgroup.procs")));
        Assert.False(Directory.Exists(joined.Leaves[0]));
    }

    [Fact]
    public async Task AHierarchyThatCannotBeJoinedIsLoggedAndTheOthersAreJoined()
    {
        var memory = Hierarchy("memory", false, "/");
        var pids = Hierarchy("pids", false, "/");
        // A file where the parent directory should be: the leaf cannot be made.
        File.WriteAllText(Path.Combine(pids.MountPoint, "kubepods"), "");

        var joined = Assert.IsType<CgroupfsPodCgroup>(await JoinAsync("/kubepods/pod1", [memory, pids]));

        Assert.Equal([Path.Combine(memory.MountPoint, "kubepods", "pod1")], joined.Leaves);
        Assert.Contains(_logger.Messages, m => m.Contains(Path.Combine(pids.MountPoint, "kubepods", "pod1"), StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    public async Task NoPathJoinsNothingAndSaysNothing(string? path)
    {
        Assert.Null(await JoinAsync(path, [Hierarchy("memory", false, "/")]));
        Assert.Empty(_logger.Messages);
        Assert.False(Directory.EnumerateDirectories(Path.Combine(_root, "memory")).Any());
    }

    [Fact]
    public async Task AnEscapingPathIsRefusedWithTheReason()
    {
        Assert.Null(await JoinAsync("/kubepods/../../etc", [Hierarchy("memory", false, "/")]));
        Assert.Contains(_logger.Messages, m => m.Contains("/kubepods/../../etc", StringComparison.Ordinal) && m.Contains("below the hierarchy's root", StringComparison.Ordinal));
    }

    [Fact]
    public async Task TheSystemdDriverStartsAScopeWithTheShimInThePodsSliceAndLeavesBackToWhereItWas()
    {
        var memory = Hierarchy("memory", false, "/sessions/1");
        var systemd = new FakeSystemd();

        var joined = await JoinAsync("kubepods-besteffort-pod1.slice:cri-containerd:abc", [memory], systemd);

        var scope = Assert.Single(systemd.Started);
        Assert.Equal(new TransientScope("cri-containerd-abc.scope", "kubepods-besteffort-pod1.slice", Pid), scope);
        var properties = scope.Properties.ToDictionary();
        Assert.Equal("kubepods-besteffort-pod1.slice", properties["Slice"]);
        Assert.Equal(new uint[] { Pid }, properties["PIDs"]);
        Assert.Equal(true, properties["Delegate"]);
        Assert.Equal(true, properties["MemoryAccounting"]);
        Assert.Equal("cri-containerd-abc.scope", joined!.Where);

        await joined.LeaveAsync();
        Assert.Equal($"{Pid}", File.ReadAllText(Path.Combine(memory.Directory("/sessions/1"), "cgroup.procs")));
    }

    [Fact]
    public async Task WithoutSystemdTheSystemdDriverIsSkippedWithTheReason()
    {
        var manager = SystemdBus.Connect(out var why, Path.Combine(_root, "no-such-dir"));
        Assert.Null(manager);
        Assert.Contains("no systemd runs on this host", why, StringComparison.Ordinal);

        Assert.Null(await HostPodCgroup.JoinAsync("kubepods.slice:cri-containerd:abc", Pid, () => [], () => (manager, why), _logger, CancellationToken.None));
        Assert.Contains(_logger.Messages, m => m.Contains("the systemd cgroup driver names it, and no systemd runs on this host", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AScopeSystemdRefusesIsLoggedAndThePodRunsOutside()
    {
        var systemd = new FakeSystemd { Failure = new SystemdException("systemd's job for cri-containerd-abc.scope ended \"failed\"") };

        Assert.Null(await JoinAsync("kubepods.slice:cri-containerd:abc", [], systemd));
        Assert.Contains(_logger.Messages, m => m.Contains("ended \"failed\"", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AfterAShimDiedItsEmptyLeafIsRemovedAndTheParentAndOtherCgroupsStay()
    {
        var memory = Hierarchy("memory", false, "/");
        var pids = Hierarchy("pids", false, "/");
        Directory.CreateDirectory(memory.Directory("/k8s.io/sandbox1"));
        Directory.CreateDirectory(memory.Directory("/k8s.io/other"));

        await HostPodCgroup.RemoveLeftoversAsync("/k8s.io/sandbox1", () => [memory, pids], _logger);

        Assert.False(Directory.Exists(memory.Directory("/k8s.io/sandbox1")));
        Assert.True(Directory.Exists(memory.Directory("/k8s.io/other")));
        Assert.Empty(_logger.Messages);
    }

    private Task<IJoinedPodCgroup?> JoinAsync(string? path, IReadOnlyList<CgroupHierarchy> hierarchies, ISystemdManager? systemd = null) =>
        HostPodCgroup.JoinAsync(path, Pid, () => hierarchies, () => (systemd, "no systemd in this test"), _logger, CancellationToken.None);

    private CgroupHierarchy Hierarchy(string name, bool unified, string origin)
    {
        var hierarchy = new CgroupHierarchy(Path.Combine(_root, name), unified, unified ? [] : [name], origin);
        Directory.CreateDirectory(hierarchy.Directory(origin));
        return hierarchy;
    }

    private sealed class FakeSystemd : ISystemdManager
    {
        public List<TransientScope> Started { get; } = [];

        public SystemdException? Failure { get; init; }

        public Task StartTransientScopeAsync(TransientScope scope, CancellationToken cancellationToken)
        {
            Started.Add(scope);
            return Failure is null ? Task.CompletedTask : Task.FromException(Failure);
        }
    }

    private sealed class MessageLogger : ILogger
    {
        public List<string> Messages { get; } = [];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Messages.Add(formatter(state, exception));
    }
}

using KataSharp.Runtime.Agent;
using KataSharp.Runtime.Configuration;
using KataSharp.Runtime.Hypervisors;
using KataSharp.Runtime.Sandbox;
using KataSharp.Runtime.Storage;
using Microsoft.Extensions.Logging.Abstractions;
using Moq;
using Xunit;

namespace KataSharp.Tests.Unit.Runtime;

/// <summary>The sandbox id claim and the container status in state.json, without a VM.</summary>
public sealed class SandboxLifecycleTests : IDisposable
{
    private const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private readonly string _stateDir = Path.Combine(Directory.CreateTempSubdirectory("ks-lifecycle-").FullName, "state");

    public void Dispose() => Directory.Delete(Path.GetDirectoryName(_stateDir)!, recursive: true);

    [Fact]
    public async Task Concurrent_claims_of_one_id_have_exactly_one_winner()
    {
        var paths = SandboxPaths.For(_stateDir, "x");
        using var go = new ManualResetEventSlim();
        var claims = Enumerable.Range(0, 16).Select(i => Task.Run(() =>
        {
            go.Wait();
            try
            {
                SandboxClaim.Claim(_stateDir, paths, new SandboxState { Id = "x", ControlSocket = $"claim-{i}" });
                return (Claim: i, Code: (SandboxErrorCode?)null);
            }
            catch (SandboxException e)
            {
                return (Claim: i, Code: (SandboxErrorCode?)e.Code);
            }
        })).ToList();
        go.Set();
        var results = await Task.WhenAll(claims);

        var winner = Assert.Single(results, r => r.Code is null).Claim;
        Assert.All(results.Where(r => r.Claim != winner), r => Assert.Equal(SandboxErrorCode.AlreadyExists, r.Code));
        Assert.Equal($"claim-{winner}", SandboxStateStore.Read(paths.StateFile).ControlSocket);
    }

    [Fact]
    public async Task Creates_that_lose_the_id_delete_nothing_of_the_winners()
    {
        var manager = new SandboxManager(Config(), NullLoggerFactory.Instance);
        var paths = manager.PathsFor("x");
        SandboxClaim.Claim(_stateDir, paths, new SandboxState { Id = "x" });
        var winnersFiles = new[] { paths.VmmSocket, paths.AgentSocket, paths.ConsoleLog, paths.VmmPidFile };
        foreach (var file in winnersFiles)
        {
            await File.WriteAllTextAsync(file, "the winner's");
        }

        var losers = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ =>
            Assert.ThrowsAsync<SandboxException>(() => manager.CreateAsync(new SandboxOptions { Id = "x" }, CancellationToken.None))));

        Assert.All(losers, e => Assert.Equal(SandboxErrorCode.AlreadyExists, e.Code));
        Assert.All(winnersFiles, file => Assert.Equal("the winner's", File.ReadAllText(file)));
        Assert.Equal("x", SandboxStateStore.Read(paths.StateFile).Id);
    }

    [Fact]
    public void A_directory_left_without_state_is_not_claimed_and_not_deleted()
    {
        var paths = SandboxPaths.For(_stateDir, "remains");
        Directory.CreateDirectory(paths.Directory);
        File.WriteAllText(paths.ConsoleLog, "remains");

        var e = Assert.Throws<SandboxException>(() => SandboxClaim.Claim(_stateDir, paths, new SandboxState { Id = "remains" }));

        Assert.Equal(SandboxErrorCode.AlreadyExists, e.Code);
        Assert.Equal("remains", File.ReadAllText(paths.ConsoleLog));
        Assert.False(File.Exists(paths.StateFile));
    }

    [Fact]
    public void Claimed_directories_are_root_only_even_when_they_were_looser()
    {
        Directory.CreateDirectory(_stateDir);
        File.SetUnixFileMode(_stateDir, Private | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute | UnixFileMode.OtherWrite);
        var paths = SandboxPaths.For(_stateDir, "x");

        SandboxClaim.Claim(_stateDir, paths, new SandboxState { Id = "x" });

        Assert.Equal(Private, File.GetUnixFileMode(_stateDir));
        Assert.Equal(Private, File.GetUnixFileMode(SandboxPaths.SandboxesDirectory(_stateDir)));
        Assert.Equal(Private, File.GetUnixFileMode(paths.Directory));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(paths.StateFile));
    }

    [Fact]
    public async Task A_start_that_completes_after_the_exit_does_not_bring_the_container_back()
    {
        await using var sandbox = OpenSandbox(new ContainerState { Id = "c", Status = ContainerState.Created });
        var exit = new ProcessExitInfo(137, DateTimeOffset.UnixEpoch.AddSeconds(42), OomKilled: false);

        sandbox.GetContainer("c").RecordExit(exit);
        sandbox.RecordContainerStarted("c", 7);

        foreach (var state in new[] { sandbox.State, SandboxStateStore.Read(sandbox.Paths.StateFile) })
        {
            var container = Assert.Single(state.Containers);
            Assert.Equal(ContainerState.Stopped, container.Status);
            Assert.Equal(137, container.ExitCode);
        }

        // Rewritten through a temporary file, and still root's alone.
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(sandbox.Paths.StateFile));
        Assert.Equal(["state.json"], Directory.EnumerateFiles(sandbox.Paths.Directory).Select(Path.GetFileName));
    }

    [Fact]
    public async Task The_first_exit_is_the_one_recorded()
    {
        await using var sandbox = OpenSandbox(new ContainerState { Id = "c", Status = ContainerState.Running });

        sandbox.GetContainer("c").RecordExit(new ProcessExitInfo(0, DateTimeOffset.UnixEpoch, false));
        sandbox.GetContainer("c").RecordExit(new ProcessExitInfo(255, DateTimeOffset.UnixEpoch, false));

        Assert.Equal(0, Assert.Single(SandboxStateStore.Read(sandbox.Paths.StateFile).Containers).ExitCode);
    }

    [Fact]
    public async Task Racing_starts_and_exits_always_end_stopped_on_disk()
    {
        var containers = Enumerable.Range(0, 64).Select(i => new ContainerState { Id = $"c{i}", Status = ContainerState.Created }).ToArray();
        await using var sandbox = OpenSandbox(containers);
        using var go = new ManualResetEventSlim();
        var racers = containers.SelectMany(c => new[]
        {
            Task.Run(() => { go.Wait(); sandbox.RecordContainerStarted(c.Id, 1); }),
            Task.Run(() => { go.Wait(); sandbox.GetContainer(c.Id).RecordExit(new ProcessExitInfo(3, DateTimeOffset.UnixEpoch, false)); }),
        }).ToList();
        go.Set();
        await Task.WhenAll(racers);

        Assert.All(SandboxStateStore.Read(sandbox.Paths.StateFile).Containers, c => Assert.Equal((ContainerState.Stopped, 3), (c.Status, c.ExitCode)));
    }

    private KataSharpConfig Config() => new()
    {
        Hypervisor = new HypervisorConfig { Accel = AccelMode.Tcg, Kernel = "/nonexistent/vmlinux", Initrd = "/nonexistent/initrd.img" },
        Agent = new AgentConfig { Transport = AgentTransportKind.Serial },
        SharedFs = new SharedFsConfig { Kind = SharedFsKind.NineP },
        Runtime = new RuntimeSection { StateDir = _stateDir },
    };

    /// <summary>A sandbox as another process opens it from state.json; its VM and agent are never called here.</summary>
    private KataSharp.Runtime.Sandbox.Sandbox OpenSandbox(params ContainerState[] containers)
    {
        var paths = SandboxPaths.For(_stateDir, "s");
        var state = new SandboxState { Id = "s" };
        SandboxClaim.Claim(_stateDir, paths, state);
        state.Containers.AddRange(containers);
        var agent = AgentConnection.FromStream(new MemoryStream(), TimeSpan.FromSeconds(1));
        return new KataSharp.Runtime.Sandbox.Sandbox(paths, state, new Mock<IHypervisor>().Object, agent,
            new SharedDirectory(paths.Shared, paths.SharedMounts, NullLogger.Instance), NullLogger.Instance, owned: false, null);
    }
}

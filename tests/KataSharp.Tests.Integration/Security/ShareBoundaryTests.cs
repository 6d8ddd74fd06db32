using System.Security.Cryptography;
using System.Text.Json.Nodes;
using KataSharp.Runtime.Sandbox;
using KataSharp.Tests.Integration.Infrastructure;

namespace KataSharp.Tests.Integration.Security;

/// <summary>One sandbox for the share-boundary tests: the attacks need a VM, not a VM each.</summary>
public sealed class SecuritySandboxFixture : IAsyncLifetime
{
    private Sandbox? _sandbox;

    public Sandbox Sandbox => _sandbox ?? throw new InvalidOperationException("the security sandbox did not start");

    public async Task InitializeAsync()
    {
        TestEnvironment.RequirePrerequisites();
        using var timeout = new CancellationTokenSource(TestEnvironment.OperationTimeout);
        _sandbox = await new SandboxManager(TestEnvironment.LoadConfig(), TestLog.Factory).CreateAsync(new SandboxOptions(), timeout.Token);
    }

    public async Task DisposeAsync()
    {
        if (_sandbox is not null)
        {
            using var timeout = new CancellationTokenSource(TestEnvironment.OperationTimeout);
            await _sandbox.DestroyAsync(timeout.Token);
        }
    }

    /// <summary>Creates (and, unless <paramref name="start"/> is false, starts) a container on <paramref name="rootfs"/>.</summary>
    public async Task<(Container Container, OutputCapture Output)> CreateAsync(string id, string rootfs, IReadOnlyList<string> args,
        Action<JsonObject>? edit = null, bool start = true)
    {
        var spec = DefaultSpec.Create(new SpecOptions { Args = args });
        edit?.Invoke(spec);
        using var timeout = new CancellationTokenSource(TestEnvironment.OperationTimeout);
        var container = await Sandbox.CreateContainerAsync(new ContainerOptions { Id = id, Spec = spec, RootfsDirectory = rootfs }, timeout.Token);
        var output = OutputCapture.Start(container.Init);
        if (start)
        {
            await container.StartAsync(timeout.Token);
        }

        return (container, output);
    }

    /// <summary>Runs a container to its end and removes it: its exit code and what it wrote.</summary>
    public async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string name, string rootfs, string script, Action<JsonObject>? edit = null)
    {
        var (container, output) = await CreateAsync(Id(name), rootfs, ["sh", "-c", script], edit);
        await using (output)
        {
            using var timeout = new CancellationTokenSource(TestEnvironment.OperationTimeout);
            var exit = await container.Init.WaitAsync(timeout.Token);
            await output.DrainAsync();
            await container.RemoveAsync(timeout.Token);
            return (exit.ExitCode, output.Stdout.Text, output.Stderr.Text);
        }
    }

    public static string Id(string name) => $"{name}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3))}";
}

[CollectionDefinition(Name)]
public sealed class SecuritySandboxCollection : ICollectionFixture<SecuritySandboxFixture>
{
    public const string Name = "3 share boundary";
}

/// <summary>
/// Issue 9's attacks on the share, made by a container that is root with every capability, against the host:
/// what the guest makes must be inert on the host, and the guest must not be able to steer where the host mounts
/// or what it deletes.
/// </summary>
[Collection(SecuritySandboxCollection.Name)]
public sealed class ShareBoundaryTests(SecuritySandboxFixture fixture)
{
    /// <summary>
    /// Victim containers created while the attacker plants symlinks (about 2 s each under TCG). The attacker works on
    /// one victim at a time, from before its creation until it is removed, so each of them is attacked all through
    /// its window rather than once in a while by a loop over every victim.
    /// </summary>
    private const int PlantRounds = 12;

    /// <summary>Victim containers removed while the attacker swaps directories for symlinks (the host-side unit tests do 500 rounds).</summary>
    private const int RemoveRounds = 12;

    private const string Canary = "canary: must never change";

    [Fact]
    public async Task Setuid_files_and_device_nodes_a_guest_makes_give_an_unprivileged_host_user_nothing()
    {
        var rootfs = await BusyboxRootfs.CopyAsync("suid");
        // A probe that reports its effective uid on the host: the host's own id(1), which never drops privileges.
        File.Copy("/usr/bin/id", Path.Combine(rootfs, "probe"));
        var kubeletPod = TestEnvironment.NewWorkDirectory("kubelet-pod");
        File.SetUnixFileMode(kubeletPod, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute);
        var emptyDir = Directory.CreateDirectory(Path.Combine(kubeletPod, "volumes", "kubernetes.io~empty-dir", "cache")).FullName;
        var volume = TestEnvironment.NewWorkDirectory("rw-volume");
        const string script = """
            set -e
            for d in / /empty/ /vol/; do
              [ "$d" = / ] || cp /probe "${d}probe"
              chown 0:0 "${d}probe" && chmod 4755 "${d}probe"
              if mknod "${d}sda" b 8 0 && mknod "${d}loop0" b 7 0; then chmod 666 "${d}sda" "${d}loop0"; else echo "mknod refused in $d"; fi
              echo "made in $d"
            done
            """;

        var id = SecuritySandboxFixture.Id("suid");
        var (container, output) = await fixture.CreateAsync(id, rootfs, ["sh", "-c", script], spec =>
        {
            HostileContainer.Apply(spec, guestPidNamespace: false);
            DefaultSpec.AddBindMount(spec, emptyDir, "/empty", readOnly: false);
            DefaultSpec.AddBindMount(spec, volume, "/vol", readOnly: false);
        });
        await using (output)
        {
            using var timeout = new CancellationTokenSource(TestEnvironment.OperationTimeout);
            var exit = await container.Init.WaitAsync(timeout.Token);
            await output.DrainAsync();
            Assert.True(exit.ExitCode == 0, $"the guest could not make its files: {output.Stderr.Text}");
            Assert.Equal(["made in /", "made in /empty/", "made in /vol/"], output.Stdout.Text.Split('\n').Where(l => l.StartsWith("made", StringComparison.Ordinal)));
            var mknodRefused = output.Stdout.Text.Contains("mknod refused", StringComparison.Ordinal);
            TestLog.Write($"setuid/mknod attacker said: {output.Stdout.Text}");

            var share = Path.Combine(fixture.Sandbox.Paths.Shared, id);
            var places = new[] { ("rootfs", Path.Combine(share, "rootfs"), rootfs), ("emptyDir", Path.Combine(share, "mounts", "0"), emptyDir), ("rw volume", Path.Combine(share, "mounts", "1"), volume) };

            // The attack of the issue, by plain paths: the sandbox tree is not even traversable.
            var byPath = await UnprivilegedHostUser.RunAsync($"{Path.Combine(share, "rootfs", "probe")} -u");
            Assert.NotEqual(0, byPath.ExitCode);
            Assert.Contains("Permission denied", byPath.Stderr, StringComparison.Ordinal);

            foreach (var (what, shared, source) in places)
            {
                // The control: the guest's chmod 4755 made a real setuid-root file on the host...
                var control = await UnprivilegedHostUser.RunInAsync(source, "exec /proc/self/fd/3/probe -u");
                Assert.True(control.Stdout.Trim() == "0", $"{what}: the control did not run as root, so this test proves nothing: {control}");

                // ...which, reached through the share, does not make anyone root (nosuid),
                var probe = await UnprivilegedHostUser.RunInAsync(shared, "exec /proc/self/fd/3/probe -u");
                Assert.True(probe.ExitCode == 0 && probe.Stdout.Trim() == "65534", $"{what}: setuid through the share: {probe}");

                // and the device nodes, where the guest could make them at all, cannot be opened there (nodev).
                foreach (var device in mknodRefused ? Array.Empty<string>() : ["sda", "loop0"])
                {
                    var open = await UnprivilegedHostUser.RunInAsync(shared, $"exec head -c 1 /proc/self/fd/3/{device} > /dev/null");
                    Assert.True(open.ExitCode != 0 && open.Stderr.Contains("Permission denied", StringComparison.Ordinal), $"{what}: opening {device} through the share: {open}");
                }
            }

            await container.RemoveAsync(timeout.Token);
        }
    }

    [Fact]
    public async Task Symlinks_planted_at_mount_targets_before_the_host_mounts_leave_everything_outside_the_share_alone()
    {
        var canaryDirectory = TestEnvironment.NewWorkDirectory("plant-canary");
        var canaryFile = Path.Combine(canaryDirectory, "file");
        await File.WriteAllTextAsync(canaryFile, Canary);
        var attackerRootfs = await BusyboxRootfs.CopyAsync("planter");
        var victimRootfs = await BusyboxRootfs.CopyAsync("plant-victim");
        var volumeFile = Path.Combine(TestEnvironment.NewWorkDirectory("plant-volume"), "config");
        await File.WriteAllTextAsync(volumeFile, "volume");
        var volumeDirectory = TestEnvironment.NewWorkDirectory("plant-volume-dir");
        var victims = Enumerable.Range(0, PlantRounds).Select(i => $"victim-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3))}-{i}").ToList();

        // Keeps trying, for the victim the host is about to create, to put symlinks to the canary where the host will
        // mount the victim's rootfs and volumes, until the host has removed it (the lock step of AttackEachAsync);
        // counts the tries and keeps the first refusal.
        // ln -T: once the host has mounted a rw volume or rootfs there, a plain `ln -s X dir` would make a link
        // inside that writable mount, which the guest may do and which steers nothing; only the target itself counts.
        var plant = $$"""
            S={{HostileContainer.GuestShare}}
            [ -d "$S" ] || { echo "no share at $S"; exit 1; }
            tries=0; refused=0; first=""
            plant() {
              [ -e "$1" ] && return
              tries=$((tries+1))
              if out=$(mkdir -p "$(dirname "$1")" 2>&1 && ln -sT "$2" "$1" 2>&1); then echo "ATTACK SUCCEEDED: planted $1"; else refused=$((refused+1)); [ -n "$first" ] || first="$out"; fi
            }
            attack() {
              plant "$S/$1/mounts/0" {{canaryFile}}
              plant "$S/$1/mounts/1" {{canaryDirectory}}
              plant "$S/$1/rootfs" {{canaryDirectory}}
            }
            {{LockStep("attack")}}
            echo "tries=$tries refused=$refused"
            echo "first refusal: $first"
            """;
        var attackerId = SecuritySandboxFixture.Id("planter");
        var (attacker, attackerOutput) = await fixture.CreateAsync(attackerId, attackerRootfs, ["sh", "-c", plant, "planter", .. victims], spec => HostileContainer.Apply(spec, guestPidNamespace: true));
        await using (attackerOutput)
        {
            // Where a steered mount would show: over the canaries and anywhere else in the tests' scratch space
            // (the whole host's table also changes with other work on the machine).
            var mountsBefore = Leftovers.MountPointsUnder(TestEnvironment.WorkDirectory);
            await AttackEachAsync(victims, attackerRootfs, attackerOutput, async victim =>
            {
                var (container, output) = await fixture.CreateAsync(victim, victimRootfs, ["true"], spec =>
                {
                    DefaultSpec.AddBindMount(spec, volumeFile, "/etc/app.conf", readOnly: false);
                    DefaultSpec.AddBindMount(spec, volumeDirectory, "/data", readOnly: false);
                }, start: false);
                await output.DisposeAsync();
                Assert.Equal(mountsBefore, Leftovers.MountPointsUnder(TestEnvironment.WorkDirectory));
                Assert.Equal(Canary, await File.ReadAllTextAsync(canaryFile));
                using var timeout = new CancellationTokenSource(TestEnvironment.OperationTimeout);
                await container.RemoveAsync(timeout.Token);
            });

            await StopAndAssertRefusedAsync(attacker, attackerOutput, attackerRootfs, $"planter, {PlantRounds} victims");
        }

        Assert.Equal(["file"], Directory.EnumerateFileSystemEntries(canaryDirectory).Select(Path.GetFileName));
        Assert.Equal(Canary, await File.ReadAllTextAsync(canaryFile));
    }

    [Fact]
    public async Task A_directory_swapped_for_a_symlink_while_a_container_is_removed_leaves_the_canary_intact()
    {
        var canary = TestEnvironment.NewWorkDirectory("swap-canary");
        await File.WriteAllTextAsync(Path.Combine(canary, "file"), Canary);
        var attackerRootfs = await BusyboxRootfs.CopyAsync("swapper");
        var victimRootfs = await BusyboxRootfs.CopyAsync("swap-victim");
        var volume = TestEnvironment.NewWorkDirectory("swap-volume");
        Directory.CreateDirectory(Path.Combine(volume, "sub", "deeper"));
        var victims = Enumerable.Range(0, RemoveRounds).Select(i => $"swapped-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3))}-{i}").ToList();

        // Swaps every directory of the current victim's share entry it can reach for a symlink to the canary, over
        // and over, from before the host creates the victim until the host has removed it (AttackEachAsync's lock step).
        var swap = $$"""
            S={{HostileContainer.GuestShare}}
            [ -d "$S" ] || { echo "no share at $S"; exit 1; }
            tries=0; refused=0; first=""
            swap() {
              [ -e "$1" ] || return
              tries=$((tries+1))
              if out=$(mv "$1" "$1.x" 2>&1); then ln -s {{canary}} "$1"; echo "ATTACK SUCCEEDED: swapped $1"; else refused=$((refused+1)); [ -n "$first" ] || first="$out"; fi
            }
            attack() {
              swap "$S/$1/mounts/0"; swap "$S/$1/mounts"; swap "$S/$1/rootfs"; swap "$S/$1"
            }
            {{LockStep("attack")}}
            echo "tries=$tries refused=$refused"
            echo "first refusal: $first"
            """;
        var (attacker, attackerOutput) = await fixture.CreateAsync(SecuritySandboxFixture.Id("swapper"), attackerRootfs, ["sh", "-c", swap, "swapper", .. victims],
            spec => HostileContainer.Apply(spec, guestPidNamespace: true));
        await using (attackerOutput)
        {
            await AttackEachAsync(victims, attackerRootfs, attackerOutput, async victim =>
            {
                var (container, output) = await fixture.CreateAsync(victim, victimRootfs, ["true"],
                    spec => DefaultSpec.AddBindMount(spec, volume, "/data", readOnly: false), start: false);
                await output.DisposeAsync();
                using var timeout = new CancellationTokenSource(TestEnvironment.OperationTimeout);
                await container.RemoveAsync(timeout.Token);
                Assert.Equal(Canary, await File.ReadAllTextAsync(Path.Combine(canary, "file")));
            });

            await StopAndAssertRefusedAsync(attacker, attackerOutput, attackerRootfs, $"swapper, {RemoveRounds} removals");
        }

        Assert.Equal(["file"], Directory.EnumerateFileSystemEntries(canary).Select(Path.GetFileName));
        Assert.True(Directory.Exists(Path.Combine(volume, "sub", "deeper")), "the volume's own files were deleted");
    }

    [Fact]
    public async Task A_read_only_volume_with_a_nested_mount_is_read_only_all_the_way_down()
    {
        var volume = TestEnvironment.NewWorkDirectory("ro-nested");
        await File.WriteAllTextAsync(Path.Combine(volume, "file"), "top");
        var nested = Directory.CreateDirectory(Path.Combine(volume, "nested")).FullName;
        await Network.HostCommand.CheckedAsync("mount", "-t", "tmpfs", "-o", "size=1m", "ks-nested", nested);
        try
        {
            await File.WriteAllTextAsync(Path.Combine(nested, "file"), "nested");
            var rootfs = await BusyboxRootfs.CopyAsync("ro-nested");

            // Root with CAP_SYS_ADMIN takes the guest's own read-only flag off first: what is left is the host's.
            const string script = """
                mount -o remount,bind,rw /ro && echo remounted
                for f in /ro/file /ro/nested/file; do
                  if echo changed > "$f"; then echo "wrote $f"; else echo "refused $f"; fi
                done
                if touch /ro/nested/new; then echo "created /ro/nested/new"; else echo "refused /ro/nested/new"; fi
                """;
            var (exit, stdout, stderr) = await fixture.RunAsync("ro-nested", rootfs, script, spec =>
            {
                HostileContainer.Apply(spec, guestPidNamespace: false);
                DefaultSpec.AddBindMount(spec, volume, "/ro", readOnly: true);
            });

            Assert.True(exit == 0, stderr);
            Assert.Contains("remounted\n", stdout, StringComparison.Ordinal);
            Assert.Contains("refused /ro/file\n", stdout, StringComparison.Ordinal);
            Assert.Contains("refused /ro/nested/file\n", stdout, StringComparison.Ordinal);
            Assert.Contains("refused /ro/nested/new\n", stdout, StringComparison.Ordinal);
            Assert.Contains("Read-only file system", stderr, StringComparison.Ordinal);
            Assert.Equal("top", await File.ReadAllTextAsync(Path.Combine(volume, "file")));
            Assert.Equal("nested", await File.ReadAllTextAsync(Path.Combine(nested, "file")));
            Assert.Equal(["file"], Directory.EnumerateFileSystemEntries(nested).Select(Path.GetFileName));
        }
        finally
        {
            await Network.HostCommand.RunAsync("umount", "-l", nested);
        }
    }

    /// <summary>
    /// The attacker's side of the lock step: for each victim in turn (its own argument list), it calls
    /// <paramref name="attack"/> once, says so with /attacking-VICTIM in its rootfs, and keeps calling it until the host
    /// writes /done-VICTIM (or /stop). So every victim is under attack from before the host starts on it until it is gone.
    /// </summary>
    private static string LockStep(string attack) => $$"""
        for v in "$@"; do
          {{attack}} "$v"
          : > "/attacking-$v"
          until [ -e "/done-$v" ] || [ -e /stop ]; do {{attack}} "$v"; done
          [ -e /stop ] && break
        done
        until [ -e /stop ]; do {{attack}} "$v"; done
        """;

    /// <summary>
    /// The host's side of the lock step: waits until the attacker is at work on each victim before
    /// <paramref name="victimize"/> creates (and removes) it, then lets the attacker move on to the next.
    /// </summary>
    private static async Task AttackEachAsync(IReadOnlyList<string> victims, string attackerRootfs, OutputCapture attacker, Func<string, Task> victimize)
    {
        foreach (var victim in victims)
        {
            var attacking = Path.Combine(attackerRootfs, $"attacking-{victim}");
            var deadline = DateTime.UtcNow + TestEnvironment.OperationTimeout;
            while (!File.Exists(attacking))
            {
                // The attacker ends only when told to: an early end (no share, a crash) is a failure, with what it said.
                Assert.False(attacker.StdoutDone.IsCompleted, $"the attacker ended before {victim}: {attacker.Stdout.Text} {attacker.Stderr.Text}");
                Assert.True(DateTime.UtcNow < deadline, $"the attacker did not get to {victim} within {TestEnvironment.OperationTimeout}: {attacker.Stdout.Text}");
                await Task.Delay(20);
            }

            await victimize(victim);
            await File.WriteAllTextAsync(Path.Combine(attackerRootfs, $"done-{victim}"), "");
        }
    }

    /// <summary>
    /// Stops an attacker loop (it ends when /stop exists in its rootfs), then checks its tally: it never reported
    /// a success, it tried, and every try was refused by the read-only top of the share.
    /// </summary>
    private static async Task StopAndAssertRefusedAsync(Container attacker, OutputCapture output, string rootfs, string what)
    {
        await File.WriteAllTextAsync(Path.Combine(rootfs, "stop"), "");
        using var wait = new CancellationTokenSource(TestEnvironment.OperationTimeout);
        await attacker.Init.WaitAsync(wait.Token);
        await output.DrainAsync();
        var said = output.Stdout.Text;
        TestLog.Write($"{what}: {said}");
        Assert.DoesNotContain("ATTACK SUCCEEDED", said, StringComparison.Ordinal);
        var tally = System.Text.RegularExpressions.Regex.Match(said, @"tries=(\d+) refused=(\d+)");
        Assert.True(tally.Success, said);
        Assert.True(int.Parse(tally.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) > 0, $"the attacker never tried: {said}");
        Assert.Equal(tally.Groups[1].Value, tally.Groups[2].Value);
        Assert.Contains("Read-only file system", said, StringComparison.Ordinal);
        await attacker.RemoveAsync(wait.Token);
    }
}

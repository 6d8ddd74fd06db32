using System.Diagnostics;
using KataSharp.Native;
using KataSharp.Runtime.Hypervisors;
using KataSharp.Runtime.Sandbox;
using KataSharp.Runtime.Storage;
using KataSharp.Tests.Unit.Native;
using Microsoft.Extensions.Logging.Abstractions;

namespace KataSharp.Tests.Unit.Runtime;

/// <summary>
/// The share's layout against what a hostile guest would do through it, host side only: the guest's writes are
/// played by this process writing through <see cref="SharedDirectory.Path"/> (what QEMU exports), and the
/// attacks the layout must make impossible (symlinks at mount targets, swaps during removal) are played in the
/// private tree directly, to show that the host's own path operations do not follow them either.
/// </summary>
public sealed class ShareLayoutTests : IDisposable
{
    /// <summary>Issue 9 asks for 500 rounds of a symlink swap racing a removal.</summary>
    private const int SwapRounds = 500;

    private readonly ScratchTree _tree = new();
    private readonly SharedDirectory _share;
    private readonly string _rootfs;

    public ShareLayoutTests()
    {
        _share = new SharedDirectory(Path.Combine(_tree.Root, "shared"), Path.Combine(_tree.Root, "mounts"), NullLogger.Instance);
        _rootfs = Directory.CreateDirectory(Path.Combine(_tree.Base, "rootfs-source")).FullName;
        File.WriteAllText(Path.Combine(_rootfs, "hello"), "hi");
    }

    public void Dispose()
    {
        if (Environment.IsPrivilegedProcess)
        {
            MountedDirectory.UnmountAll(_tree.Base, NullLogger.Instance);
        }

        _tree.Dispose();
    }

    private string Exported(string relative) => Path.Combine(_share.Path, relative);

    private static IReadOnlyList<string> MountOptions(string mountPoint)
    {
        var fields = File.ReadLines("/proc/self/mountinfo").Select(l => l.Split(' ')).Last(f => f.Length > 5 && MountTable.Unescape(f[4]) == mountPoint);
        return fields[5].Split(',');
    }

    private static (int ExitCode, string Output) RunAsNobodyIn(string directory, string script)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "-c", """exec 3<"$1" && shift && exec "$@" """, "_", directory, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", "/bin/sh", "-c", script })
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        Assert.True(process.WaitForExit(TimeSpan.FromSeconds(30)));
        return (process.ExitCode, output.Trim());
    }

    [RootFact]
    public void The_top_levels_of_the_share_are_read_only_and_a_rootfs_stays_writable_below_its_mount_point()
    {
        _share.Create();
        _share.ShareRootfs("c1", _rootfs);
        var volume = Directory.CreateDirectory(Path.Combine(_tree.Base, "volume")).FullName;
        var spec = DefaultSpec.Create(new SpecOptions { Args = ["true"] });
        DefaultSpec.AddBindMount(spec, volume, "/data", readOnly: false);
        _share.ShareSpecMounts("c1", spec);

        foreach (var level in new[] { "", "c1", "c1/mounts" })
        {
            var directory = Exported(level);
            Assert.ThrowsAny<IOException>(() => File.WriteAllText(Path.Combine(directory, "planted"), "x"));
            Assert.ThrowsAny<IOException>(() => Directory.CreateDirectory(Path.Combine(directory, "planted-dir")));
            Assert.ThrowsAny<IOException>(() => File.CreateSymbolicLink(Path.Combine(directory, "planted-link"), _tree.Canary));
        }

        Assert.ThrowsAny<IOException>(() => Directory.Move(Exported("c1/mounts/0"), Exported("c1/mounts/moved")));
        Assert.ThrowsAny<IOException>(() => Directory.Move(Exported("c1"), Exported("c1-moved")));
        File.WriteAllText(Exported("c1/rootfs/written"), "by the guest");
        File.WriteAllText(Exported("c1/mounts/0/written"), "by the guest");
        Assert.Equal("by the guest", File.ReadAllText(Path.Combine(_rootfs, "written")));
        Assert.Equal("by the guest", File.ReadAllText(Path.Combine(volume, "written")));
        Assert.Contains("ro", MountOptions(_share.Path));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(_share.PrivatePath));
    }

    [RootFact]
    public void Every_bind_is_nosuid_and_nodev_and_read_only_reaches_nested_mounts()
    {
        var volume = Directory.CreateDirectory(Path.Combine(_tree.Base, "ro-volume")).FullName;
        var nested = Directory.CreateDirectory(Path.Combine(volume, "nested")).FullName;
        SystemCalls.Mount("ks-nested", nested, "tmpfs", 0, "size=1m");
        File.WriteAllText(Path.Combine(nested, "file"), "nested");
        _share.Create();
        _share.ShareRootfs("c1", _rootfs);
        var spec = DefaultSpec.Create(new SpecOptions { Args = ["true"] });
        DefaultSpec.AddBindMount(spec, volume, "/ro", readOnly: true);
        _share.ShareSpecMounts("c1", spec);

        foreach (var point in new[] { "c1/rootfs", "c1/mounts/0", "c1/mounts/0/nested" })
        {
            var options = MountOptions(Path.Combine(_share.PrivatePath, point));
            Assert.Contains("nosuid", options);
            Assert.Contains("nodev", options);
            Assert.Equal(options, MountOptions(Exported(point))); // the exported copy is the same mount
        }

        Assert.Contains("rw", MountOptions(Exported("c1/rootfs")));
        Assert.Contains("ro", MountOptions(Exported("c1/mounts/0/nested")));
        Assert.ThrowsAny<IOException>(() => File.WriteAllText(Exported("c1/mounts/0/nested/file"), "changed"));
        Assert.ThrowsAny<IOException>(() => File.WriteAllText(Exported("c1/mounts/0/nested/new"), "x"));
        Assert.Equal("nested", File.ReadAllText(Path.Combine(nested, "file")));
    }

    [RootFact]
    public void A_setuid_root_file_and_a_device_node_in_the_share_give_an_unprivileged_user_nothing()
    {
        // What a guest does under 9p passthrough: real setuid-root files and device nodes in its rootfs.
        File.Copy("/usr/bin/id", Path.Combine(_rootfs, "probe"));
        File.SetUnixFileMode(Path.Combine(_rootfs, "probe"), (UnixFileMode)0b100_111_101_101); // 4755
        using (var mknod = Process.Start("mknod", ["-m", "666", Path.Combine(_rootfs, "loop0"), "b", "7", "0"]))
        {
            Assert.True(mknod.WaitForExit(TimeSpan.FromSeconds(30)) && mknod.ExitCode == 0);
        }

        _share.Create();
        _share.ShareRootfs("c1", _rootfs);

        // The control: outside the share the file really makes uid 65534 root, and the node is a live device.
        Assert.Equal((0, "0"), RunAsNobodyIn(_rootfs, "exec /proc/self/fd/3/probe -u"));
        Assert.DoesNotContain("Permission denied", RunAsNobodyIn(_rootfs, "exec head -c 1 /proc/self/fd/3/loop0 > /dev/null").Output, StringComparison.Ordinal);

        Assert.Equal((0, "65534"), RunAsNobodyIn(Exported("c1/rootfs"), "exec /proc/self/fd/3/probe -u"));
        var open = RunAsNobodyIn(Exported("c1/rootfs"), "exec head -c 1 /proc/self/fd/3/loop0 > /dev/null");
        Assert.NotEqual(0, open.ExitCode);
        Assert.Contains("Permission denied", open.Output, StringComparison.Ordinal);
    }

    [RootFact]
    public void A_symlink_planted_at_a_mount_target_is_refused_and_nothing_is_mounted_or_truncated_outside()
    {
        var canaryFile = Path.Combine(_tree.Canary, "f");
        var volumeFile = Path.Combine(_tree.Base, "app.conf");
        File.WriteAllText(volumeFile, "config");
        _share.Create();
        Directory.CreateDirectory(Path.Combine(_share.PrivatePath, "c1", "mounts"));
        File.CreateSymbolicLink(Path.Combine(_share.PrivatePath, "c1", "mounts", "0"), canaryFile);
        File.CreateSymbolicLink(Path.Combine(_share.PrivatePath, "c1", "rootfs"), _tree.Canary);
        var spec = DefaultSpec.Create(new SpecOptions { Args = ["true"] });
        DefaultSpec.AddBindMount(spec, volumeFile, "/etc/app.conf", readOnly: false);

        Assert.Throws<ErrnoException>(() => _share.ShareRootfs("c1", _rootfs));
        Assert.Throws<ErrnoException>(() => _share.ShareSpecMounts("c1", spec));

        _tree.AssertCanaryIntact();
        Assert.Empty(MountTable.MountPointsUnder(_tree.Canary, MountTable.MountPoints()));
        _share.RemoveContainer("c1");
        _tree.AssertCanaryIntact();
    }

    [RootFact]
    public void Removing_a_container_while_its_directories_are_swapped_for_symlinks_never_deletes_outside_the_share()
    {
        _share.Create();
        var volume = Directory.CreateDirectory(Path.Combine(_tree.Base, "volume")).FullName;
        var swaps = 0;
        for (var round = 0; round < SwapRounds; round++)
        {
            _share.ShareRootfs("c1", _rootfs);
            var spec = DefaultSpec.Create(new SpecOptions { Args = ["true"] });
            DefaultSpec.AddBindMount(spec, volume, "/data", readOnly: false);
            _share.ShareSpecMounts("c1", spec);
            Directory.CreateDirectory(Path.Combine(_share.PrivatePath, "c1", "junk", "deeper"));
            File.WriteAllText(Path.Combine(_share.PrivatePath, "c1", "junk", "deeper", "file"), "x");

            using (var swapper = new SymlinkSwapper(Path.Combine(_share.PrivatePath, "c1", "junk"), _tree.Canary))
            {
                try
                {
                    _share.RemoveContainer("c1");
                }
                catch (IOException)
                {
                    // The swap won a step; what matters is what was not deleted. The next call cleans up.
                }

                swaps += swapper.Swaps;
            }

            _share.RemoveContainer("c1");
            _tree.AssertCanaryIntact();
            Assert.Equal("hi", File.ReadAllText(Path.Combine(_rootfs, "hello")));
            Assert.True(Directory.Exists(volume));
        }

        Assert.True(swaps > 0, "the swapper never swapped, so the race was not run");
        Assert.False(Directory.Exists(Path.Combine(_share.PrivatePath, "c1")));
    }

    [RootFact]
    public async Task Inside_the_vmm_jail_later_binds_appear_and_the_top_of_the_share_stays_read_only()
    {
        _share.Create();
        var jail = new VmmJail { SandboxDirectory = _tree.Root, SharedDirectory = _share.Path, Devices = ["/dev/null"], Capabilities = ["chown", "fowner"] };
        var probe = $"""
            touch {_tree.Root}/ready
            while [ ! -e {_share.Path}/c1/rootfs/hello ]; do sleep 0.05; done
            (touch {_share.Path}/planted) 2>&1 || true
            (mkdir {_share.Path}/c1/mounts) 2>&1 || true
            echo written > {_share.Path}/c1/rootfs/written && echo rootfs-writable
            """;
        var (path, args) = jail.Wrap("/bin/sh", ["-c", probe]);
        var start = new ProcessStartInfo(path) { RedirectStandardOutput = true, RedirectStandardError = true };
        args.ToList().ForEach(start.ArgumentList.Add);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!File.Exists(Path.Combine(_tree.Root, "ready")) && !process.HasExited)
        {
            await Task.Delay(20, deadline.Token);
        }

        // Made after the VMM started, as a container's rootfs is: it must reach the VMM's namespace.
        _share.ShareRootfs("c1", _rootfs);
        await process.WaitForExitAsync(deadline.Token);

        var said = await stdout;
        Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}: {await stderr}\n{said}");
        Assert.Equal(2, said.Split('\n').Count(l => l.Contains("Read-only file system", StringComparison.Ordinal)));
        Assert.EndsWith("rootfs-writable\n", said, StringComparison.Ordinal);
        Assert.Equal("written\n", File.ReadAllText(Path.Combine(_rootfs, "written")));
        Assert.False(File.Exists(Path.Combine(_share.PrivatePath, "planted")));
    }
}

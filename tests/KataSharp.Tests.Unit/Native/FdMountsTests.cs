using KataSharp.Native;
using KataSharp.Native.Files;
using KataSharp.Native.Mounts;

namespace KataSharp.Tests.Unit.Native;

/// <summary>Mounting onto an fd resolved beneath a root, and recursive read-only with mount_setattr.</summary>
public sealed class FdMountsTests : IDisposable
{
    private readonly ScratchTree _tree = new();
    private readonly List<string> _mounts = [];

    public void Dispose()
    {
        foreach (var mount in Enumerable.Reverse(_mounts))
        {
            _ = Libc.Umount2(mount, Linux.MNT_DETACH);
        }

        _tree.Dispose();
    }

    private string Source()
    {
        var source = Directory.CreateDirectory(Path.Combine(_tree.Base, "source")).FullName;
        File.WriteAllText(Path.Combine(source, "marker"), "shared");
        return source;
    }

    [RootFact]
    public void Mounts_onto_the_directory_that_was_opened_even_after_it_is_swapped_for_a_symlink()
    {
        var source = Source();
        var target = Directory.CreateDirectory(Path.Combine(_tree.Root, "target")).FullName;
        using var root = SafePath.OpenRoot(_tree.Root);
        using var fd = SafePath.OpenBeneath(root, "target", Linux.O_PATH | Linux.O_DIRECTORY);
        Directory.Move(target, target + ".real");
        File.CreateSymbolicLink(target, _tree.Canary);

        FdMounts.BindOnto(source, fd, recursive: false);
        _mounts.Add(target + ".real");

        Assert.Equal("shared", File.ReadAllText(Path.Combine(target + ".real", "marker")));
        Assert.False(File.Exists(Path.Combine(_tree.Canary, "marker")));
        _tree.AssertCanaryIntact();
    }

    [RootFact]
    public void Binds_beneath_a_root_and_unmounts_through_an_fd_of_the_mount()
    {
        var source = Source();
        Directory.CreateDirectory(Path.Combine(_tree.Root, "a", "target"));
        using var root = SafePath.OpenRoot(_tree.Root);

        FdMounts.BindBeneath(source, root, "a/target", recursive: false);
        _mounts.Add(Path.Combine(_tree.Root, "a", "target"));
        Assert.Equal("shared", File.ReadAllText(Path.Combine(_tree.Root, "a", "target", "marker")));
        using (var mounted = SafePath.OpenBeneath(root, "a/target", Linux.O_PATH | Linux.O_DIRECTORY))
        {
            FdMounts.Unmount(mounted);
        }

        Assert.False(File.Exists(Path.Combine(_tree.Root, "a", "target", "marker")));
        File.CreateSymbolicLink(Path.Combine(_tree.Root, "link"), _tree.Canary);
        Assert.Throws<ErrnoException>(() => FdMounts.BindBeneath(source, root, "link", recursive: false));
        _tree.AssertCanaryIntact();
    }

    [RootFact]
    public void Read_only_is_recursive_and_adds_nosuid_and_nodev()
    {
        var source = Source();
        var nested = Directory.CreateDirectory(Path.Combine(source, "nested")).FullName;
        Assert.Equal(0, Libc.Mount("tmpfs", nested, "tmpfs", 0, 0));
        _mounts.Add(nested);
        var target = Directory.CreateDirectory(Path.Combine(_tree.Root, "target")).FullName;
        using var root = SafePath.OpenRoot(_tree.Root);
        using var fd = SafePath.OpenBeneath(root, "target", Linux.O_PATH | Linux.O_DIRECTORY);
        FdMounts.BindOnto(source, fd, recursive: true);
        _mounts.Add(target);
        using var mounted = SafePath.OpenBeneath(root, "target", Linux.O_PATH | Linux.O_DIRECTORY);

        FdMounts.MakeReadOnly(mounted);

        Assert.ThrowsAny<IOException>(() => File.WriteAllText(Path.Combine(target, "new"), "x"));
        Assert.ThrowsAny<IOException>(() => File.WriteAllText(Path.Combine(target, "nested", "new"), "x"));
        var options = MountOptions(Path.Combine(target, "nested"));
        Assert.Contains("ro", options);
        Assert.Contains("nosuid", options);
        Assert.Contains("nodev", options);
        // The source itself stays writable: the attributes belong to the bind mount.
        File.WriteAllText(Path.Combine(source, "nested", "still-writable"), "x");
    }

    /// <summary>The per-mount options (field 6 of /proc/self/mountinfo) of the mount at <paramref name="path"/>.</summary>
    private static string[] MountOptions(string path) =>
        File.ReadAllLines("/proc/self/mountinfo")
            .Select(line => line.Split(' '))
            .Last(fields => fields[4] == path)[5]
            .Split(',');
}

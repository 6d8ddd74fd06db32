using KataSharp.Native;
using KataSharp.Native.Files;

namespace KataSharp.Tests.Unit.Native;

/// <summary>Removing a guest-writable tree without ever following a symlink out of it.</summary>
public sealed class SafeRemoveTests : IDisposable
{
    private readonly ScratchTree _tree = new();

    public void Dispose() => _tree.Dispose();

    private string MakeTree()
    {
        var top = Path.Combine(_tree.Root, "tree");
        Directory.CreateDirectory(Path.Combine(top, "sub", "deeper"));
        File.WriteAllText(Path.Combine(top, "file"), "x");
        File.WriteAllText(Path.Combine(top, "sub", "file"), "x");
        File.WriteAllText(Path.Combine(top, "sub", "deeper", "file"), "x");
        File.CreateSymbolicLink(Path.Combine(top, "to-canary"), _tree.Canary);
        File.CreateSymbolicLink(Path.Combine(top, "sub", "to-canary-file"), Path.Combine(_tree.Canary, "f"));
        return top;
    }

    [Fact]
    public void Removes_a_tree_and_only_unlinks_the_symlinks_in_it()
    {
        var top = MakeTree();

        SafeRemove.RemoveAll(top);

        Assert.False(Directory.Exists(top));
        _tree.AssertCanaryIntact();
    }

    [Fact]
    public void A_missing_path_or_a_missing_parent_is_not_an_error()
    {
        SafeRemove.RemoveAll(Path.Combine(_tree.Root, "nothing"));
        SafeRemove.RemoveAll(Path.Combine(_tree.Root, "no", "parent"));
    }

    [Fact]
    public void A_symlink_named_as_the_tree_is_removed_as_a_link()
    {
        var link = Path.Combine(_tree.Root, "link");
        File.CreateSymbolicLink(link, _tree.Canary);

        SafeRemove.RemoveAll(link);

        Assert.False(File.Exists(link) || Directory.Exists(link));
        _tree.AssertCanaryIntact();
    }

    [Fact]
    public void Leaves_the_canary_intact_while_a_directory_is_swapped_for_a_symlink()
    {
        var rounds = 0;
        var swaps = 0;
        while (rounds < 50 || swaps < 200)
        {
            var top = MakeTree();
            using (var swapper = new SymlinkSwapper(Path.Combine(top, "sub"), _tree.Canary))
            {
                try
                {
                    SafeRemove.RemoveAll(top);
                }
                catch (ErrnoException e) when (e.Errno is Linux.ENOTEMPTY)
                {
                    // The swapper refilled the tree for too long; what matters is where the walk went.
                }

                swaps += swapper.Swaps;
            }

            _tree.AssertCanaryIntact();
            SafeRemove.RemoveAll(top);
            Assert.False(Directory.Exists(top));
            rounds++;
        }
    }

    [RootFact]
    public void Refuses_to_descend_into_a_mount_point_inside_the_tree()
    {
        var top = MakeTree();
        var mountPoint = Directory.CreateDirectory(Path.Combine(top, "sub", "mnt")).FullName;
        Assert.Equal(0, Libc.Mount("tmpfs", mountPoint, "tmpfs", 0, 0));
        try
        {
            File.WriteAllText(Path.Combine(mountPoint, "on-tmpfs"), "x");

            var e = Assert.Throws<ErrnoException>(() => SafeRemove.RemoveAll(top));

            Assert.Equal(Linux.EXDEV, e.Errno);
            Assert.True(File.Exists(Path.Combine(mountPoint, "on-tmpfs")));
        }
        finally
        {
            Assert.Equal(0, Libc.Umount2(mountPoint, Linux.MNT_DETACH));
        }

        SafeRemove.RemoveAll(top);
        Assert.False(Directory.Exists(top));
    }
}

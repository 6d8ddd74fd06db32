using KataSharp.Native;
using KataSharp.Native.Files;

namespace KataSharp.Tests.Unit.Native;

/// <summary>Resolving guest-controlled paths beneath a root, with openat2 and with the O_NOFOLLOW walk.</summary>
public sealed class SafePathTests : IDisposable
{
    private readonly ScratchTree _tree = new();

    public void Dispose() => _tree.Dispose();

    private static OwnedFd Open(bool walk, OwnedFd root, string path, int flags) =>
        walk ? SafePath.WalkBeneath(root, path, flags) : SafePath.OpenBeneath(root, path, flags);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Opens_a_file_beneath_the_root(bool walk)
    {
        Directory.CreateDirectory(Path.Combine(_tree.Root, "a", "b"));
        File.WriteAllText(Path.Combine(_tree.Root, "a", "b", "f"), "inside");
        using var root = SafePath.OpenRoot(_tree.Root);

        using var fd = Open(walk, root, "/a//./b/f", Linux.O_RDONLY);

        Assert.Equal("inside", ScratchTree.ReadAll(fd));
    }

    [Theory]
    [InlineData(false, "link/f")]
    [InlineData(false, "link")]
    [InlineData(true, "link/f")]
    [InlineData(true, "link")]
    public void Refuses_a_path_through_or_to_a_symlink(bool walk, string path)
    {
        File.CreateSymbolicLink(Path.Combine(_tree.Root, "link"), _tree.Canary);
        using var root = SafePath.OpenRoot(_tree.Root);

        var e = Assert.Throws<ErrnoException>(() => Open(walk, root, path, Linux.O_RDONLY).Dispose());

        Assert.Equal(Linux.ELOOP, e.Errno);
    }

    [Theory]
    [InlineData(false, Linux.O_PATH)]
    [InlineData(true, Linux.O_PATH)]
    [InlineData(true, Linux.O_PATH | Linux.O_DIRECTORY)]
    public void Refuses_an_O_PATH_open_of_a_symlink(bool walk, int flags)
    {
        File.CreateSymbolicLink(Path.Combine(_tree.Root, "link"), _tree.Canary);
        using var root = SafePath.OpenRoot(_tree.Root);

        Assert.Throws<ErrnoException>(() => Open(walk, root, "link", flags).Dispose());
    }

    [Fact]
    public void Refuses_dot_dot()
    {
        Directory.CreateDirectory(Path.Combine(_tree.Root, "a"));
        using var root = SafePath.OpenRoot(_tree.Root);

        var e = Assert.Throws<ErrnoException>(() => SafePath.OpenBeneath(root, "a/../../canary/f", Linux.O_RDONLY));

        Assert.Equal(Linux.EXDEV, e.Errno);
    }

    [Fact]
    public void Creates_missing_directories_but_never_through_a_symlink()
    {
        File.CreateSymbolicLink(Path.Combine(_tree.Root, "link"), _tree.Canary);
        using var root = SafePath.OpenRoot(_tree.Root);

        using (SafePath.CreateDirectoryBeneath(root, "x/y/z"))
        {
            Assert.True(Directory.Exists(Path.Combine(_tree.Root, "x", "y", "z")));
        }

        Assert.Throws<ErrnoException>(() => SafePath.CreateDirectoryBeneath(root, "link/new").Dispose());
        _tree.AssertCanaryIntact();
    }

    [Fact]
    public void Creates_a_file_but_not_over_a_symlink_and_not_over_an_existing_file_when_exclusive()
    {
        Directory.CreateDirectory(Path.Combine(_tree.Root, "d"));
        File.CreateSymbolicLink(Path.Combine(_tree.Root, "d", "evil"), Path.Combine(_tree.Canary, "f"));
        using var root = SafePath.OpenRoot(_tree.Root);

        using (var fd = SafePath.CreateFileBeneath(root, "d/new", Linux.O_WRONLY, exclusive: true))
        {
            Assert.True(File.Exists(Path.Combine(_tree.Root, "d", "new")));
        }

        Assert.Equal(Linux.EEXIST, Assert.Throws<ErrnoException>(() => SafePath.CreateFileBeneath(root, "d/new", Linux.O_WRONLY, exclusive: true)).Errno);
        Assert.Equal(Linux.ELOOP, Assert.Throws<ErrnoException>(() => SafePath.CreateFileBeneath(root, "d/evil", Linux.O_WRONLY | Linux.O_TRUNC)).Errno);
        _tree.AssertCanaryIntact();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Never_opens_the_canary_while_a_directory_is_swapped_for_a_symlink(bool walk)
    {
        var victim = Path.Combine(_tree.Root, "a");
        Directory.CreateDirectory(victim);
        File.WriteAllText(Path.Combine(victim, "f"), "inside");
        using var root = SafePath.OpenRoot(_tree.Root);
        var opened = 0;
        var refused = 0;

        using (var swapper = new SymlinkSwapper(victim, _tree.Canary))
        {
            // Enough rounds that the open and the swap really interleave, whatever the machine's speed.
            while (swapper.Swaps < 500 || opened + refused < 2000)
            {
                try
                {
                    using var fd = Open(walk, root, "a/f", Linux.O_RDONLY);
                    Assert.Equal("inside", ScratchTree.ReadAll(fd));
                    opened++;
                }
                catch (ErrnoException e) when (e.Errno is Linux.ELOOP or Linux.ENOENT or Linux.ENOTDIR)
                {
                    refused++;
                }
            }
        }

        _tree.AssertCanaryIntact();
    }
}

using KataSharp.Agent.Init;
using KataSharp.Native;
using Xunit;

namespace KataSharp.Tests.Unit.Agent;

/// <summary>Only an initramfs root is bound onto itself: a root image already has a parent mount, and the second start never binds again.</summary>
public sealed class PivotableRootTests
{
    [Fact]
    public void Only_the_first_start_on_an_initramfs_binds_the_root()
    {
        Assert.True(PivotableRoot.IsNeeded(null, Linux.RAMFS_MAGIC));
        Assert.True(PivotableRoot.IsNeeded(null, Linux.TMPFS_MAGIC));
        Assert.False(PivotableRoot.IsNeeded("bound", Linux.RAMFS_MAGIC));
        Assert.False(PivotableRoot.IsNeeded(null, Linux.EROFS_SUPER_MAGIC_V1));
    }

    [Fact]
    public void The_root_file_system_type_comes_from_statfs()
    {
        const long procSuperMagic = 0x9fa0, sysfsMagic = 0x62656572;
        Assert.Equal(procSuperMagic, SystemCalls.FileSystemType("/proc"));
        Assert.Equal(sysfsMagic, SystemCalls.FileSystemType("/sys"));
        Assert.Throws<ErrnoException>(() => SystemCalls.FileSystemType("/nonexistent-" + Guid.NewGuid()));
    }
}

using System.Text.Json.Nodes;
using KataSharp.Runtime.Sandbox;
using KataSharp.Runtime.Storage;
using KataSharp.Tests.Unit.Native;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace KataSharp.Tests.Unit.Runtime;

/// <summary>Real bind mounts (these machines run the tests as root); skipped, with the reason, without privileges.</summary>
public sealed class SharedDirectoryTests : IDisposable
{
    /// <summary>MS_SHARED, which the native layer has no name for (the runtime only ever makes its own tree shared).</summary>
    private const ulong MsShared = 1 << 20;

    private readonly string _dir = Directory.CreateTempSubdirectory("ks-shared-").FullName;

    public void Dispose()
    {
        MountedDirectory.UnmountAndDelete(_dir, NullLogger.Instance);
    }

    [RootFact]
    public void Shares_rootfs_and_volumes_then_unmounts_everything()
    {
        var rootfs = Directory.CreateDirectory(Path.Combine(_dir, "rootfs")).FullName;
        File.WriteAllText(Path.Combine(rootfs, "hello"), "hi");
        var data = Directory.CreateDirectory(Path.Combine(_dir, "data")).FullName;
        var config = Path.Combine(_dir, "config.txt");
        File.WriteAllText(config, "cfg");

        var shared = new SharedDirectory(Path.Combine(_dir, "shared"), Path.Combine(_dir, "mounts"), NullLogger.Instance);
        shared.Create();
        Assert.Equal("c1/rootfs", shared.ShareRootfs("c1", rootfs));
        Assert.Equal("hi", File.ReadAllText(Path.Combine(shared.Path, "c1/rootfs/hello")));

        var spec = DefaultSpec.Create(new SpecOptions { Args = ["true"] });
        DefaultSpec.AddBindMount(spec, data, "/data", readOnly: false);
        DefaultSpec.AddBindMount(spec, config, "/etc/app.conf", readOnly: true);
        shared.ShareSpecMounts("c1", spec);

        var mounts = spec["mounts"]!.AsArray();
        Assert.Equal("proc", mounts[0]!["source"]!.GetValue<string>()); // not a bind: untouched
        Assert.Equal("c1/mounts/0", mounts[^2]!["source"]!.GetValue<string>());
        Assert.Equal("c1/mounts/1", mounts[^1]!["source"]!.GetValue<string>());

        File.WriteAllText(Path.Combine(shared.Path, "c1/mounts/0/written"), "through the share");
        Assert.Equal("through the share", File.ReadAllText(Path.Combine(data, "written")));
        Assert.Equal("cfg", File.ReadAllText(Path.Combine(shared.Path, "c1/mounts/1")));
        Assert.ThrowsAny<IOException>(() => File.WriteAllText(Path.Combine(shared.Path, "c1/mounts/1"), "changed"));

        shared.Destroy();
        Assert.False(Directory.Exists(shared.Path));
        Assert.False(Directory.Exists(shared.PrivatePath));
        Assert.Empty(MountTable.MountPointsUnder(_dir, MountTable.MountPoints()));
        // The host files behind the mounts survive the teardown.
        Assert.Equal("hi", File.ReadAllText(Path.Combine(rootfs, "hello")));
        Assert.Equal("through the share", File.ReadAllText(Path.Combine(data, "written")));
        Assert.Equal("cfg", File.ReadAllText(config));
    }

    [RootFact]
    public void A_missing_bind_source_is_not_found()
    {
        var shared = new SharedDirectory(Path.Combine(_dir, "shared2"), Path.Combine(_dir, "mounts2"), NullLogger.Instance);
        shared.Create();
        var spec = new JsonObject { ["mounts"] = new JsonArray(new JsonObject { ["destination"] = "/x", ["type"] = "bind", ["source"] = "/nonexistent/katasharp", ["options"] = new JsonArray("rbind") }) };
        Assert.Throws<FileNotFoundException>(() => shared.ShareSpecMounts("c1", spec));
    }

    [RootFact]
    public void A_host_mount_made_later_under_a_shared_source_reaches_an_rslave_volume_only_and_outlives_the_container()
    {
        // A node's volume directories are shared mounts; this source is one of its own.
        var source = Directory.CreateDirectory(Path.Combine(_dir, "source")).FullName;
        BindMounts.Bind(source, source);
        KataSharp.Native.SystemCalls.Mount(null, source, null, MsShared, null);
        var shared = new SharedDirectory(Path.Combine(_dir, "shared3"), Path.Combine(_dir, "mounts3"), NullLogger.Instance);
        shared.Create();
        var spec = new JsonObject
        {
            ["mounts"] = new JsonArray(
                new JsonObject { ["destination"] = "/slave", ["type"] = "bind", ["source"] = source, ["options"] = new JsonArray("rbind", "rslave", "rw") },
                new JsonObject { ["destination"] = "/private", ["type"] = "bind", ["source"] = source, ["options"] = new JsonArray("rbind", "rprivate", "rw") }),
        };
        shared.ShareSpecMounts("c1", spec);

        var later = Directory.CreateDirectory(Path.Combine(source, "later")).FullName;
        KataSharp.Native.SystemCalls.Mount("ks-test", later, "tmpfs", 0, "size=1m");
        File.WriteAllText(Path.Combine(later, "file"), "mounted later");

        Assert.Equal("mounted later", File.ReadAllText(Path.Combine(shared.Path, "c1/mounts/0/later/file")));
        Assert.False(File.Exists(Path.Combine(shared.Path, "c1/mounts/1/later/file")), "a private volume received a later host mount");

        // Unmounting the share's copies must not unmount the host's own mount (umount propagates between peers).
        shared.RemoveContainer("c1");
        Assert.Equal("mounted later", File.ReadAllText(Path.Combine(later, "file")));
        shared.Destroy();
        Assert.Equal("mounted later", File.ReadAllText(Path.Combine(later, "file")));
    }

    [Theory]
    [InlineData(new[] { "rbind", "rslave" }, KataSharp.Native.Linux.MS_SLAVE)]
    [InlineData(new[] { "rbind", "slave", "ro" }, KataSharp.Native.Linux.MS_SLAVE)]
    [InlineData(new[] { "rbind", "rprivate" }, KataSharp.Native.Linux.MS_PRIVATE)]
    [InlineData(new[] { "rbind" }, KataSharp.Native.Linux.MS_PRIVATE)]
    [InlineData(new[] { "rbind", "rshared" }, KataSharp.Native.Linux.MS_PRIVATE)]
    public void A_volume_is_a_slave_of_its_source_only_when_it_asks_for_it(string[] options, ulong propagation) =>
        Assert.Equal(propagation, SharedDirectory.Propagation(options));
}

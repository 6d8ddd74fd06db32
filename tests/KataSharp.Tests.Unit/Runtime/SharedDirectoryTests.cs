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
}

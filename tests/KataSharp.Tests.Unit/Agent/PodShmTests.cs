using System.Text.Json.Nodes;
using KataSharp.Agent.Containers;
using KataSharp.Runtime.Storage;
using KataSharp.Tests.Unit.Native;
using Xunit;

namespace KataSharp.Tests.Unit.Agent;

/// <summary>The pod's one /dev/shm; the mounting cases need root (these machines run the tests as root).</summary>
public sealed class PodShmTests : IDisposable
{
    private const int SandboxPid = 42;

    private readonly string _dir = Directory.CreateTempSubdirectory("ks-podshm-").FullName;

    private string ShmPath => Path.Combine(_dir, "pod-shm");

    public void Dispose()
    {
        while (MountTable.IsMountPoint(ShmPath))
        {
            KataSharp.Native.SystemCalls.Unmount(ShmPath);
        }

        Directory.Delete(_dir, recursive: true);
    }

    /// <summary>A translated spec with the tmpfs the shim makes of CRI's /dev/shm bind, joining <paramref name="ipcPath"/> if given.</summary>
    private static JsonObject Spec(string? ipcPath, bool readOnly = false)
    {
        var ipc = new JsonObject { ["type"] = "ipc" };
        if (ipcPath is not null)
        {
            ipc["path"] = ipcPath;
        }

        return new JsonObject
        {
            ["mounts"] = new JsonArray(
                new JsonObject { ["destination"] = "/proc", ["type"] = "proc", ["source"] = "proc" },
                new JsonObject
                {
                    ["destination"] = "/dev/shm", ["type"] = "tmpfs", ["source"] = "shm",
                    ["options"] = new JsonArray("nosuid", "noexec", "nodev", "mode=1777", "size=65536k", readOnly ? "ro" : "rw"),
                }),
            ["linux"] = new JsonObject { ["namespaces"] = new JsonArray(ipc, new JsonObject { ["type"] = "mount" }) },
        };
    }

    private static JsonObject ShmMount(JsonObject spec) => spec["mounts"]![1]!.AsObject();

    private static List<string> Options(JsonObject mount) => mount["options"]!.AsArray().Select(o => o!.GetValue<string>()).ToList();

    [RootFact]
    public void The_sandbox_container_makes_the_pods_tmpfs_and_every_container_joining_its_ipc_binds_it()
    {
        var shm = new PodShm(ShmPath, enabled: true);
        var sandbox = Spec(ipcPath: null);
        shm.Apply(sandbox, sandboxContainer: true, sandboxInitPid: null);
        var app = Spec($"/proc/{SandboxPid}/ns/ipc", readOnly: true);
        shm.Apply(app, sandboxContainer: false, sandboxInitPid: SandboxPid);

        foreach (var (spec, access) in new[] { (sandbox, "rw"), (app, "ro") })
        {
            var mount = ShmMount(spec);
            Assert.Equal(("bind", ShmPath), (mount["type"]!.GetValue<string>(), mount["source"]!.GetValue<string>()));
            Assert.Equal(["rbind", "nosuid", "nodev", "noexec", access], Options(mount));
        }

        var line = File.ReadLines("/proc/self/mountinfo").Select(l => l.Split(' ')).Single(f => MountTable.Unescape(f[4]) == ShmPath);
        var separator = Array.IndexOf(line, "-");
        Assert.Equal("tmpfs", line[separator + 1]);
        Assert.Contains("size=65536k", line[separator + 3].Split(','));
        Assert.Contains("nodev", line[5].Split(','));

        shm.Release();
        Assert.False(MountTable.IsMountPoint(ShmPath));
    }

    [RootFact]
    public void A_container_with_an_ipc_namespace_of_its_own_keeps_its_private_tmpfs()
    {
        var shm = new PodShm(ShmPath, enabled: true);
        shm.Apply(Spec(ipcPath: null), sandboxContainer: true, sandboxInitPid: null);
        var own = Spec(ipcPath: null);
        shm.Apply(own, sandboxContainer: false, sandboxInitPid: SandboxPid);
        Assert.Equal("tmpfs", ShmMount(own)["type"]!.GetValue<string>());
        shm.Release();
    }

    [Fact]
    public void Without_a_sandbox_tmpfs_or_when_disabled_nothing_changes()
    {
        var beforeSandbox = Spec($"/proc/{SandboxPid}/ns/ipc");
        new PodShm(ShmPath, enabled: true).Apply(beforeSandbox, sandboxContainer: false, sandboxInitPid: SandboxPid);
        Assert.Equal(Spec($"/proc/{SandboxPid}/ns/ipc").ToJsonString(), beforeSandbox.ToJsonString());

        var developerMode = Spec(ipcPath: null);
        new PodShm(ShmPath, enabled: false).Apply(developerMode, sandboxContainer: true, sandboxInitPid: null);
        Assert.Equal(Spec(ipcPath: null).ToJsonString(), developerMode.ToJsonString());
        Assert.False(Directory.Exists(ShmPath));
    }
}

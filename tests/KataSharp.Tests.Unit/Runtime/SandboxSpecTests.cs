using System.Text.Json.Nodes;
using KataSharp.Runtime.Images;
using KataSharp.Runtime.Sandbox;
using KataSharp.Runtime.Storage;
using Xunit;

namespace KataSharp.Tests.Unit.Runtime;

public sealed class SandboxSpecTests
{
    private static List<string> Strings(JsonNode? node) => node!.AsArray().Select(n => n!.GetValue<string>()).ToList();

    [Fact]
    public void Default_spec_looks_like_runc_spec()
    {
        var spec = DefaultSpec.Create(new SpecOptions { Args = ["sh", "-c", "true"], Hostname = "box" });
        Assert.Equal("box", spec["hostname"]!.GetValue<string>());
        Assert.Equal(["sh", "-c", "true"], Strings(spec["process"]!["args"]));
        Assert.Equal("/", spec["process"]!["cwd"]!.GetValue<string>());
        Assert.Equal([DefaultSpec.DefaultPath], Strings(spec["process"]!["env"]));
        Assert.False(spec["process"]!["terminal"]!.GetValue<bool>());
        Assert.Equal(0u, spec["process"]!["user"]!["uid"]!.GetValue<uint>());
        Assert.Contains("CAP_NET_BIND_SERVICE", Strings(spec["process"]!["capabilities"]!["bounding"]));
        Assert.DoesNotContain("CAP_SYS_ADMIN", Strings(spec["process"]!["capabilities"]!["effective"]));

        var namespaces = spec["linux"]!["namespaces"]!.AsArray().Select(n => n!["type"]!.GetValue<string>()).ToList();
        Assert.Equal(["pid", "ipc", "uts", "mount", "network", "cgroup"], namespaces);
        Assert.Contains("/proc/kcore", Strings(spec["linux"]!["maskedPaths"]));
        Assert.Contains("/proc/sys", Strings(spec["linux"]!["readonlyPaths"]));

        var mounts = spec["mounts"]!.AsArray().Select(m => m!["destination"]!.GetValue<string>()).ToList();
        Assert.Equal(["/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup"], mounts);
        Assert.Contains("ro", Strings(spec["mounts"]![5]!["options"]));
        Assert.Null(spec["linux"]!["resources"]!["memory"]);
    }

    [Fact]
    public void Terminal_env_user_and_limits()
    {
        var spec = DefaultSpec.Create(new SpecOptions
        {
            Args = ["top"],
            Env = ["PATH=/custom", "A=b"],
            Terminal = true,
            Cwd = "/work",
            User = new ProcessUser(1000, 1000, [10]),
            MemoryLimitBytes = 256L << 20,
            CpuLimit = 1.5,
        });
        Assert.Equal(["PATH=/custom", "A=b", "TERM=xterm"], Strings(spec["process"]!["env"]));
        Assert.True(spec["process"]!["terminal"]!.GetValue<bool>());
        Assert.Equal("/work", spec["process"]!["cwd"]!.GetValue<string>());
        Assert.Equal(1000u, spec["process"]!["user"]!["gid"]!.GetValue<uint>());
        Assert.Equal(10u, spec["process"]!["user"]!["additionalGids"]![0]!.GetValue<uint>());
        Assert.Equal(256L << 20, spec["linux"]!["resources"]!["memory"]!["limit"]!.GetValue<long>());
        Assert.Equal(150_000L, spec["linux"]!["resources"]!["cpu"]!["quota"]!.GetValue<long>());
        Assert.Equal(100_000L, spec["linux"]!["resources"]!["cpu"]!["period"]!.GetValue<long>());
    }

    [Fact]
    public void Bind_mounts_are_added_as_rbind()
    {
        var spec = DefaultSpec.Create(new SpecOptions { Args = ["true"] });
        DefaultSpec.AddBindMount(spec, "/host/data", "/data", readOnly: true);
        var mount = spec["mounts"]!.AsArray().Last()!;
        Assert.Equal("/data", mount["destination"]!.GetValue<string>());
        Assert.Equal("/host/data", mount["source"]!.GetValue<string>());
        Assert.Equal(["rbind", "ro"], Strings(mount["options"]));
    }

    [Theory]
    [InlineData("/a:/b", "/a", "/b", false)]
    [InlineData("/a:/b:ro", "/a", "/b", true)]
    [InlineData("/a:/b:rw", "/a", "/b", false)]
    public void Volume_specs_parse(string text, string host, string guest, bool readOnly) =>
        Assert.Equal(new VolumeSpec(host, guest, readOnly), VolumeSpec.Parse(text));

    [Theory]
    [InlineData("/a")]
    [InlineData("/a:b")]
    [InlineData("/a:/b:rx")]
    [InlineData(":/b")]
    public void Bad_volume_specs_are_refused(string text) => Assert.Throws<FormatException>(() => VolumeSpec.Parse(text));

    [Theory]
    [InlineData("abc123")]
    [InlineData("my-job_1.2")]
    public void Valid_ids(string id) => SandboxPaths.ValidateId(id);

    [Theory]
    [InlineData("")]
    [InlineData("../x")]
    [InlineData("-x")]
    [InlineData("a/b")]
    public void Invalid_ids(string id)
    {
        var e = Assert.Throws<SandboxException>(() => SandboxPaths.ValidateId(id));
        Assert.Equal(SandboxErrorCode.InvalidArgument, e.Code);
    }

    [Fact]
    public void Overlong_socket_paths_are_refused()
    {
        var paths = SandboxPaths.For("/" + new string('x', 100), "id");
        Assert.Throws<SandboxException>(paths.ValidateSocketPaths);
        SandboxPaths.For("/run/katasharp", new string('a', 64)).ValidateSocketPaths();
    }

    [Fact]
    public void State_round_trips_through_json()
    {
        var dir = Directory.CreateTempSubdirectory("ks-state-").FullName;
        try
        {
            var path = Path.Combine(dir, "state.json");
            var state = new SandboxState { Id = "abc", Pid = 42, PidStartTime = 7, AgentSocket = "/x/agent.sock", Containers = [new ContainerState { Id = "abc", Status = "stopped", ExitCode = 3 }] };
            SandboxStateStore.Write(path, state);
            var read = SandboxStateStore.Read(path);
            Assert.Equal(42, read.Pid);
            Assert.Equal(3, read.Containers.Single().ExitCode);
            Assert.Contains("\"agentSocket\"", File.ReadAllText(path), StringComparison.Ordinal);
            Assert.Equal(SandboxErrorCode.NotFound, Assert.Throws<SandboxException>(() => SandboxStateStore.Read(Path.Combine(dir, "none.json"))).Code);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Mountinfo_escapes_are_decoded_and_deepest_mounts_come_first()
    {
        Assert.Equal("/a b\\c", MountTable.Unescape("/a\\040b\\134c"));
        var under = MountTable.MountPointsUnder("/s", ["/s", "/s/x", "/sx", "/s/x/y", "/t"]);
        Assert.Equal(["/s/x/y", "/s/x", "/s"], under);
    }

    [Fact]
    public void Process_identity_knows_this_process()
    {
        var me = KataSharp.Runtime.Hypervisors.ProcessIdentity.Of(Environment.ProcessId);
        Assert.NotNull(me);
        Assert.True(me!.Value.IsAlive);
        Assert.False((me.Value with { StartTime = me.Value.StartTime + 1 }).IsAlive);
    }
}

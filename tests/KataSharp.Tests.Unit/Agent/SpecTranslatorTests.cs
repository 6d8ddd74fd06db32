using System.Text;
using System.Text.Json.Nodes;
using Grpc.Core;
using KataSharp.Agent.Containers;
using KataSharp.Protocol.Errors;
using Xunit;

namespace KataSharp.Tests.Unit.Agent;

public sealed class SpecTranslatorTests
{
    private const string Shared = "/run/katasharp/shared";

    private const string Spec = """
        {
          "ociVersion": "1.1.0",
          "process": {
            "terminal": true,
            "user": { "uid": 0, "gid": 0 },
            "args": ["sh", "-c", "echo hi"],
            "env": ["PATH=/bin"],
            "cwd": "/",
            "apparmorProfile": "cri-containerd.apparmor.d",
            "capabilities": { "bounding": ["CAP_KILL"] },
            "rlimits": [{ "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 }]
          },
          "root": { "path": "/host/snapshots/42/fs", "readonly": true },
          "hostname": "web",
          "mounts": [
            { "destination": "/proc", "type": "proc", "source": "proc" },
            { "destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"] },
            { "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["ro"] },
            { "destination": "/etc/hosts", "type": "bind", "source": "sandbox/hosts", "options": ["rbind", "ro"] },
            { "destination": "/data", "source": "volumes/data", "options": ["rbind", "rw"] }
          ],
          "hooks": { "prestart": [{ "path": "/usr/bin/nvidia-hook" }] },
          "annotations": { "io.kubernetes.cri.container-type": "container" },
          "linux": {
            "cgroupsPath": "/kubepods/burstable/pod1/abc",
            "mountLabel": "system_u:object_r:container_file_t:s0",
            "namespaces": [
              { "type": "pid" },
              { "type": "network", "path": "/var/run/netns/cni-1234" },
              { "type": "ipc", "path": "/proc/4242/ns/ipc" },
              { "type": "uts", "path": "/proc/4242/ns/uts" },
              { "type": "mount" },
              { "type": "cgroup", "path": "/proc/4242/ns/cgroup" }
            ],
            "seccomp": { "defaultAction": "SCMP_ACT_ERRNO", "syscalls": [] },
            "resources": { "memory": { "limit": 104857600 } }
          }
        }
        """;

    private static JsonObject Translate(string spec = Spec, string rootfs = "c1/rootfs", bool terminal = false, int? sandboxPid = null) =>
        SpecTranslator.Translate(Encoding.UTF8.GetBytes(spec), new SpecTranslationInput("c1", Shared, rootfs, terminal, sandboxPid));

    private static StatusCode CodeOf(Action action) => Assert.Throws<KataSharpException>(action).StatusCode;

    private static JsonArray Namespaces(JsonObject spec) => spec["linux"]!["namespaces"]!.AsArray();

    [Fact]
    public void RootPathIsTheRootfsInsideTheSharedDirectory()
    {
        var spec = Translate();

        Assert.Equal("/run/katasharp/shared/c1/rootfs", spec["root"]!["path"]!.GetValue<string>());
        Assert.True(spec["root"]!["readonly"]!.GetValue<bool>());
    }

    [Fact]
    public void RelativeBindSourcesAreResolvedInTheSharedDirectory()
    {
        var mounts = Translate()["mounts"]!.AsArray();

        Assert.Equal("/run/katasharp/shared/sandbox/hosts", mounts[3]!["source"]!.GetValue<string>());
        Assert.Equal("/run/katasharp/shared/volumes/data", mounts[4]!["source"]!.GetValue<string>());
    }

    [Fact]
    public void KernelFileSystemMountsAreLeftAlone()
    {
        var mounts = Translate()["mounts"]!.AsArray();

        Assert.Equal("proc", mounts[0]!["source"]!.GetValue<string>());
        Assert.Equal("tmpfs", mounts[1]!["source"]!.GetValue<string>());
        Assert.Equal("cgroup", mounts[2]!["source"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("../etc")]
    [InlineData("volumes/../../etc")]
    [InlineData("a/..")]
    public void BindSourceWithDotDotIsRejected(string source)
    {
        var spec = Spec.Replace("\"volumes/data\"", $"\"{source}\"", StringComparison.Ordinal);

        Assert.Equal(StatusCode.InvalidArgument, CodeOf(() => Translate(spec)));
    }

    [Fact]
    public void AbsoluteBindSourceOutsideTheSharedDirectoryIsRejected()
    {
        var spec = Spec.Replace("\"volumes/data\"", "\"/var/lib/kubelet/pods/x/volumes/data\"", StringComparison.Ordinal);

        var error = Assert.Throws<KataSharpException>(() => Translate(spec));
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains("outside the shared directory", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void AbsoluteBindSourceInsideTheSharedDirectoryIsKept()
    {
        var spec = Spec.Replace("\"volumes/data\"", "\"/run/katasharp/shared/volumes/data\"", StringComparison.Ordinal);

        Assert.Equal("/run/katasharp/shared/volumes/data", Translate(spec)["mounts"]![4]!["source"]!.GetValue<string>());
    }

    [Fact]
    public void AbsolutePathThatOnlySharesAPrefixIsRejected()
    {
        var spec = Spec.Replace("\"volumes/data\"", "\"/run/katasharp/shared-evil/data\"", StringComparison.Ordinal);

        Assert.Equal(StatusCode.InvalidArgument, CodeOf(() => Translate(spec)));
    }

    [Fact]
    public void RootfsWithDotDotOrEmptyIsRejected()
    {
        Assert.Equal(StatusCode.InvalidArgument, CodeOf(() => Translate(rootfs: "../../etc")));
        Assert.Equal(StatusCode.InvalidArgument, CodeOf(() => Translate(rootfs: "")));
        Assert.Equal(StatusCode.InvalidArgument, CodeOf(() => Translate(rootfs: "/etc")));
    }

    [Fact]
    public void NetworkNamespaceIsDropped()
    {
        var types = Namespaces(Translate()).Select(n => n!["type"]!.GetValue<string>()).ToList();

        Assert.DoesNotContain("network", types);
        Assert.Equal(["pid", "ipc", "uts", "mount", "cgroup"], types);
    }

    [Fact]
    public void ASpecWithoutACgroupNamespaceGetsOneOfItsOwn_SoTheContainerSeesItsOwnCgroup()
    {
        var spec = JsonNode.Parse(Spec)!.AsObject();
        spec["linux"]!["namespaces"] = new JsonArray(new JsonObject { ["type"] = "pid" }, new JsonObject { ["type"] = "mount" });

        var cgroup = Assert.Single(Namespaces(Translate(spec.ToJsonString())), n => n!["type"]!.GetValue<string>() == "cgroup");

        Assert.Null(cgroup!["path"]);
    }

    [Fact]
    public void NetSysctls_NameTheGuestsNetworkNamespace_SoCrunWritesThemThere()
    {
        var spec = JsonNode.Parse(Spec)!.AsObject();
        spec["linux"]!["sysctl"] = new JsonObject { ["net.ipv4.ip_unprivileged_port_start"] = "0", ["kernel.shm_rmid_forced"] = "1" };

        var network = Namespaces(Translate(spec.ToJsonString())).Where(n => n!["type"]!.GetValue<string>() == "network").ToList();

        var joined = Assert.Single(network);
        Assert.Equal($"/proc/{Environment.ProcessId}/ns/net", joined!["path"]!.GetValue<string>());
    }

    [Fact]
    public void SysctlsOutsideNet_LeaveTheNetworkNamespaceDropped()
    {
        var spec = JsonNode.Parse(Spec)!.AsObject();
        spec["linux"]!["sysctl"] = new JsonObject { ["kernel.shm_rmid_forced"] = "1" };

        Assert.DoesNotContain(Namespaces(Translate(spec.ToJsonString())), n => n!["type"]!.GetValue<string>() == "network");
    }

    [Fact]
    public void HostNamespacePathsAreReplacedByTheSandboxContainers()
    {
        var namespaces = Namespaces(Translate(sandboxPid: 77));

        Assert.Equal("/proc/77/ns/ipc", namespaces.Single(n => n!["type"]!.GetValue<string>() == "ipc")!["path"]!.GetValue<string>());
        Assert.Equal("/proc/77/ns/uts", namespaces.Single(n => n!["type"]!.GetValue<string>() == "uts")!["path"]!.GetValue<string>());
        // Not joinable from the sandbox: a host path is simply dropped.
        Assert.Null(namespaces.Single(n => n!["type"]!.GetValue<string>() == "cgroup")!["path"]);
        // No path given: stays a new namespace.
        Assert.Null(namespaces.Single(n => n!["type"]!.GetValue<string>() == "pid")!["path"]);
    }

    [Fact]
    public void PidNamespacePathIsReplacedWhenTheSandboxExists()
    {
        var spec = Spec.Replace("{ \"type\": \"pid\" }", "{ \"type\": \"pid\", \"path\": \"/proc/4242/ns/pid\" }", StringComparison.Ordinal);

        Assert.Equal("/proc/9/ns/pid", Namespaces(Translate(spec, sandboxPid: 9)).Single(n => n!["type"]!.GetValue<string>() == "pid")!["path"]!.GetValue<string>());
        Assert.Null(Namespaces(Translate(spec)).Single(n => n!["type"]!.GetValue<string>() == "pid")!["path"]);
    }

    [Fact]
    public void SharedPidNamespaceJoinsTheSandboxContainerEvenWithoutAPath()
    {
        var input = new SpecTranslationInput("c1", Shared, "c1/rootfs", false, 55) { SharePidNamespace = true };
        var withPid = SpecTranslator.Translate(Encoding.UTF8.GetBytes(Spec), input);
        var withoutPid = SpecTranslator.Translate("""{ "process": { "args": ["sh"] }, "linux": { "namespaces": [{ "type": "mount" }] } }"""u8, input);

        Assert.Equal("/proc/55/ns/pid", Namespaces(withPid).Single(n => n!["type"]!.GetValue<string>() == "pid")!["path"]!.GetValue<string>());
        Assert.Equal("/proc/55/ns/pid", Namespaces(withoutPid).Single(n => n!["type"]!.GetValue<string>() == "pid")!["path"]!.GetValue<string>());
    }

    [Fact]
    public void HostNamespacePathsAreDroppedWithoutASandboxContainer()
    {
        var namespaces = Namespaces(Translate());

        Assert.All(namespaces, n => Assert.Null(n!["path"]));
    }

    [Fact]
    public void CgroupsPathIsTheAgentsOwn()
    {
        Assert.Equal("/katasharp/c1", Translate()["linux"]!["cgroupsPath"]!.GetValue<string>());
    }

    [Fact]
    public void HooksAndHostSecurityLabelsAreDropped()
    {
        var spec = Translate();

        Assert.Null(spec["hooks"]);
        Assert.Null(spec["process"]!["apparmorProfile"]);
        Assert.Null(spec["linux"]!["mountLabel"]);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void TerminalFollowsTheStdioOptions(bool terminal)
    {
        Assert.Equal(terminal, Translate(terminal: terminal)["process"]!["terminal"]!.GetValue<bool>());
    }

    [Fact]
    public void EverythingElseIsPreserved()
    {
        var spec = Translate();

        Assert.Equal("SCMP_ACT_ERRNO", spec["linux"]!["seccomp"]!["defaultAction"]!.GetValue<string>());
        Assert.Equal(104857600, spec["linux"]!["resources"]!["memory"]!["limit"]!.GetValue<long>());
        Assert.Equal("CAP_KILL", spec["process"]!["capabilities"]!["bounding"]![0]!.GetValue<string>());
        Assert.Equal("RLIMIT_NOFILE", spec["process"]!["rlimits"]![0]!["type"]!.GetValue<string>());
        Assert.Equal("PATH=/bin", spec["process"]!["env"]![0]!.GetValue<string>());
        Assert.Equal("container", spec["annotations"]!["io.kubernetes.cri.container-type"]!.GetValue<string>());
        Assert.Equal("web", spec["hostname"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("")]
    [InlineData("{not json")]
    [InlineData("[]")]
    [InlineData("{}")]
    [InlineData("""{ "process": { "args": [] } }""")]
    [InlineData("""{ "process": { "args": [1] } }""")]
    [InlineData("""{ "process": { "args": ["sh"] }, "mounts": {} }""")]
    [InlineData("""{ "process": { "args": ["sh"] }, "mounts": [{ "type": "bind", "source": "x" }] }""")]
    [InlineData("""{ "process": { "args": ["sh"] }, "mounts": [{ "destination": "/x", "type": "bind" }] }""")]
    [InlineData("""{ "process": { "args": ["sh"] }, "root": "rootfs" }""")]
    [InlineData("""{ "process": { "args": ["sh"] }, "linux": { "namespaces": [{ "path": "/x" }] } }""")]
    public void MalformedSpecsAreInvalidArgument(string spec)
    {
        Assert.Equal(StatusCode.InvalidArgument, CodeOf(() => Translate(spec)));
    }

    [Fact]
    public void MinimalSpecGetsRootAndLinuxSections()
    {
        var spec = Translate("""{ "process": { "args": ["sh"] } }""");

        Assert.Equal("/run/katasharp/shared/c1/rootfs", spec["root"]!["path"]!.GetValue<string>());
        Assert.Equal("/katasharp/c1", spec["linux"]!["cgroupsPath"]!.GetValue<string>());
    }

    [Fact]
    public void ExecProcessIsValidatedAndGetsTheTerminalFlag()
    {
        var process = SpecTranslator.TranslateProcess("""{ "args": ["cat"], "cwd": "/", "terminal": false, "selinuxLabel": "x" }"""u8, terminal: true);

        Assert.True(process["terminal"]!.GetValue<bool>());
        Assert.Null(process["selinuxLabel"]);
        Assert.Equal("cat", process["args"]![0]!.GetValue<string>());
        Assert.Equal(StatusCode.InvalidArgument,
            Assert.Throws<KataSharpException>(() => SpecTranslator.TranslateProcess("""{ "cwd": "/" }"""u8, terminal: false)).StatusCode);
    }
}

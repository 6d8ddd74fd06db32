using System.Text.Json.Nodes;
using KataSharp.Shim.TaskService;

namespace KataSharp.Tests.Unit.Shim;

public sealed class GuestSpecAdapterTests
{
    [Fact]
    public void CriShmBind_BecomesAGuestTmpfs_AndOtherMountsStay()
    {
        var spec = JsonNode.Parse("""
            {"mounts":[
              {"destination":"/dev/shm","type":"bind","source":"/run/containerd/io.containerd.grpc.v1.cri/sandboxes/x/shm","options":["rbind","ro"]},
              {"destination":"/etc/hosts","type":"bind","source":"/var/lib/x/hosts","options":["rbind","rw"]},
              {"destination":"/proc","type":"proc","source":"proc"}]}
            """)!.AsObject();

        var adapted = GuestSpecAdapter.Adapt(spec);

        var shm = adapted["mounts"]![0]!;
        Assert.Equal("tmpfs", shm["type"]!.GetValue<string>());
        Assert.Contains("ro", shm["options"]!.AsArray().Select(o => o!.GetValue<string>()));
        Assert.Equal("/var/lib/x/hosts", adapted["mounts"]![1]!["source"]!.GetValue<string>());
        Assert.Equal("proc", adapted["mounts"]![2]!["type"]!.GetValue<string>());
        Assert.Equal("bind", spec["mounts"]![0]!["type"]!.GetValue<string>());
    }

    [Fact]
    public void SpecWithoutMounts_IsReturnedUnchanged()
    {
        var spec = JsonNode.Parse("""{"process":{"args":["sh"]}}""")!.AsObject();
        Assert.Equal(spec.ToJsonString(), GuestSpecAdapter.Adapt(spec).ToJsonString());
    }
}

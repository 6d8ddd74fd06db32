using Google.Protobuf.WellKnownTypes;
using KataSharp.Protocol;
using KataSharp.Protocol.Containerd.Events;

namespace KataSharp.Tests.Unit.Protocol;

public sealed class TypeUrlsTests
{
    [Fact]
    public void Pack_UsesTheBareMessageName()
    {
        var any = TypeUrls.Pack(new TaskOOM { ContainerId = "c" });
        Assert.Equal("containerd.events.TaskOOM", any.TypeUrl);
    }

    [Fact]
    public void Unpack_AcceptsBareAndPrefixedNames()
    {
        var oom = new TaskOOM { ContainerId = "c" };
        Assert.Equal(oom, TypeUrls.Unpack<TaskOOM>(TypeUrls.Pack(oom)));
        Assert.Equal(oom, TypeUrls.Unpack<TaskOOM>(Any.Pack(oom)));
        Assert.True(TypeUrls.Is<TaskOOM>(Any.Pack(oom)));
    }

    [Fact]
    public void Unpack_OfAnotherType_Throws()
    {
        var any = TypeUrls.Pack(new TaskOOM { ContainerId = "c" });
        Assert.False(TypeUrls.Is<TaskExit>(any));
        Assert.Throws<ArgumentException>(() => TypeUrls.Unpack<TaskExit>(any));
    }

    [Fact]
    public void PackJson_KeepsContainerdsRegisteredName()
    {
        var any = TypeUrls.PackJson(TypeUrls.OciProcess, "{\"args\":[\"sh\"]}"u8);
        Assert.Equal("types.containerd.io/opencontainers/runtime-spec/1/Process", any.TypeUrl);
        Assert.Equal("{\"args\":[\"sh\"]}", any.Value.ToStringUtf8());
    }
}

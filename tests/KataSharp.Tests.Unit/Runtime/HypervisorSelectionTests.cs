using KataSharp.Runtime.Configuration;
using KataSharp.Runtime.Hypervisors;
using KataSharp.Runtime.Hypervisors.Qemu;
using Microsoft.Extensions.Logging.Abstractions;
using Moq;
using Xunit;

namespace KataSharp.Tests.Unit.Runtime;

public sealed class HypervisorSelectionTests
{
    private static readonly IHypervisorDriver Qemu = HypervisorFactory.Create(new HypervisorConfig(), NullLoggerFactory.Instance);

    private static Mock<IHostSystem> Host(bool kvmExists, bool kvmUsable, bool pvm, bool vhostVsock = false, bool virtiofsd = false)
    {
        var host = new Mock<IHostSystem>();
        host.Setup(h => h.FileExists(AcceleratorSelector.KvmDevice)).Returns(kvmExists);
        host.Setup(h => h.CanOpenReadWrite(AcceleratorSelector.KvmDevice)).Returns(kvmUsable);
        host.Setup(h => h.DirectoryExists(AcceleratorSelector.PvmModule)).Returns(pvm);
        host.Setup(h => h.FileExists(ChannelSelector.VhostVsockDevice)).Returns(vhostVsock);
        host.Setup(h => h.FileExists("/usr/libexec/virtiofsd")).Returns(virtiofsd);
        return host;
    }

    [Fact]
    public void Auto_uses_kvm_when_usable_and_not_pvm()
    {
        var choice = AcceleratorSelector.Choose(AccelMode.Auto, Host(true, true, false).Object);
        Assert.Equal(Accelerator.Kvm, choice.Accelerator);
        Assert.Null(choice.Warning);
    }

    [Fact]
    public void Auto_falls_back_to_tcg_on_pvm_with_the_reason()
    {
        var choice = AcceleratorSelector.Choose(AccelMode.Auto, Host(true, true, true).Object);
        Assert.Equal(Accelerator.Tcg, choice.Accelerator);
        Assert.Contains("PVM", choice.Warning, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', choice.Warning!);
    }

    [Theory]
    [InlineData(false, false, "does not exist")]
    [InlineData(true, false, "not usable")]
    public void Auto_falls_back_to_tcg_without_a_usable_kvm(bool exists, bool usable, string reason)
    {
        var choice = AcceleratorSelector.Choose(AccelMode.Auto, Host(exists, usable, false).Object);
        Assert.Equal(Accelerator.Tcg, choice.Accelerator);
        Assert.Contains(reason, choice.Warning, StringComparison.Ordinal);
    }

    [Fact]
    public void Explicit_modes()
    {
        Assert.Equal(new AcceleratorChoice(Accelerator.Tcg, null), AcceleratorSelector.Choose(AccelMode.Tcg, Host(true, true, false).Object));
        Assert.Equal(Accelerator.Kvm, AcceleratorSelector.Choose(AccelMode.Kvm, Host(true, true, true).Object).Accelerator);
        Assert.Throws<HypervisorException>(() => AcceleratorSelector.Choose(AccelMode.Kvm, Host(false, false, false).Object));
    }

    [Fact]
    public void Agent_channel_prefers_vsock_when_the_device_exists()
    {
        Assert.Equal(AgentChannelKind.Vsock, ChannelSelector.ChooseAgentChannel(AgentTransportKind.Auto, Qemu, Host(false, false, false, vhostVsock: true).Object));
        Assert.Equal(AgentChannelKind.Serial, ChannelSelector.ChooseAgentChannel(AgentTransportKind.Auto, Qemu, Host(false, false, false).Object));
        Assert.Equal(AgentChannelKind.Serial, ChannelSelector.ChooseAgentChannel(AgentTransportKind.Serial, Qemu, Host(false, false, false, vhostVsock: true).Object));
        Assert.Throws<HypervisorException>(() => ChannelSelector.ChooseAgentChannel(AgentTransportKind.Vsock, Qemu, Host(false, false, false).Object));
        Assert.Throws<HypervisorException>(() => ChannelSelector.ChooseAgentChannel(AgentTransportKind.HybridVsock, Qemu, Host(false, false, false).Object));
    }

    [Fact]
    public void Shared_fs_prefers_virtiofs_when_virtiofsd_exists()
    {
        var config = new SharedFsConfig();
        Assert.Equal(SharedFsType.VirtioFs, ChannelSelector.ChooseSharedFs(config, Host(false, false, false, virtiofsd: true).Object));
        Assert.Equal(SharedFsType.NineP, ChannelSelector.ChooseSharedFs(config, Host(false, false, false).Object));
        Assert.Equal(SharedFsType.NineP, ChannelSelector.ChooseSharedFs(config with { Kind = SharedFsKind.NineP }, Host(false, false, false, virtiofsd: true).Object));
        Assert.Throws<HypervisorException>(() => ChannelSelector.ChooseSharedFs(config with { Kind = SharedFsKind.VirtioFs }, Host(false, false, false).Object));
    }

    [Fact]
    public void Hypervisor_kind_selects_the_driver_and_state_names_it()
    {
        Assert.IsType<QemuDriver>(Qemu);
        Assert.Equal("qemu", Qemu.Name);
        Assert.Equal(HypervisorKind.Qemu, HypervisorFactory.KindNamed(Qemu.Name));
        Assert.Throws<HypervisorException>(() => HypervisorFactory.KindNamed("firecracker"));
    }

    [Fact]
    public void Agent_channel_is_chosen_among_what_the_hypervisor_offers()
    {
        var hybrid = new Mock<IHypervisorDriver>();
        hybrid.Setup(d => d.Name).Returns("a hybrid-vsock VMM");
        hybrid.Setup(d => d.AgentChannels).Returns(new HashSet<AgentChannelKind> { AgentChannelKind.HybridVsock, AgentChannelKind.Serial });
        var withVsockDevice = Host(false, false, false, vhostVsock: true).Object;

        Assert.Equal(AgentChannelKind.HybridVsock, ChannelSelector.ChooseAgentChannel(AgentTransportKind.Auto, hybrid.Object, withVsockDevice));
        Assert.Equal(AgentChannelKind.HybridVsock, ChannelSelector.ChooseAgentChannel(AgentTransportKind.HybridVsock, hybrid.Object, withVsockDevice));
        Assert.Equal(AgentChannelKind.Serial, ChannelSelector.ChooseAgentChannel(AgentTransportKind.Serial, hybrid.Object, withVsockDevice));
        var e = Assert.Throws<HypervisorException>(() => ChannelSelector.ChooseAgentChannel(AgentTransportKind.Vsock, hybrid.Object, withVsockDevice));
        Assert.Contains("a hybrid-vsock VMM offers", e.Message, StringComparison.Ordinal);
    }
}

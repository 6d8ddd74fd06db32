using KataSharp.Runtime.Hypervisors;
using KataSharp.Runtime.Hypervisors.Qemu;
using Xunit;

namespace KataSharp.Tests.Unit.Runtime;

public sealed class QemuCommandLineTests
{
    private static VmSpec Spec(Accelerator accel = Accelerator.Tcg, AgentChannel? channel = null, SharedFsSpec? fs = null) => new()
    {
        Name = "katasharp-abc",
        KernelPath = "/g/vmlinux",
        Root = GuestRoot.Initramfs("/g/initrd.img"),
        ExtraKernelParams = "loglevel=7",
        Accelerator = accel,
        Vcpus = 2,
        MemoryMiB = 768,
        ConsoleLogPath = "/s/console.log",
        Files = new VmmFiles("/s", "/s/vmm.sock", "/s/vmm.pid", "/s/vmm.log"),
        AgentChannel = channel ?? new AgentChannel(AgentChannelKind.Serial, "/s/agent.sock"),
        SharedFs = fs ?? new SharedFsSpec(SharedFsType.NineP, "/s/shared"),
    };

    private static IReadOnlyList<string> Build(VmSpec spec, string machine = "microvm", int tbSizeMiB = 64) =>
        QemuCommandLine.Build(spec, new QemuOptions { Machine = machine, TbSizeMiB = tbSizeMiB });

    /// <summary>The value following <paramref name="option"/> each time it occurs.</summary>
    private static List<string> Values(IReadOnlyList<string> args, string option) =>
        args.Select((a, i) => (a, i)).Where(p => p.a == option && p.i + 1 < args.Count).Select(p => args[p.i + 1]).ToList();

    [Fact]
    public void Microvm_under_tcg_with_serial_and_9p()
    {
        var args = Build(Spec());
        Assert.Equal(["microvm,acpi=on,pit=on,pic=on,rtc=on"], Values(args, "-M"));
        Assert.Equal(["tcg,tb-size=64"], Values(args, "-accel"));
        Assert.Equal(["max"], Values(args, "-cpu"));
        Assert.Equal(["2"], Values(args, "-smp"));
        Assert.Equal(["768M"], Values(args, "-m"));
        foreach (var flag in new[] { "-nodefaults", "-no-user-config", "-nographic", "-no-reboot" })
        {
            Assert.Contains(flag, args);
        }

        Assert.Equal(["on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"], Values(args, "-sandbox"));
        Assert.Equal(["/g/vmlinux"], Values(args, "-kernel"));
        Assert.Equal(["/g/initrd.img"], Values(args, "-initrd"));
        Assert.Equal(["file:/s/console.log"], Values(args, "-serial"));
        Assert.Equal(["unix:/s/vmm.sock,server=on,wait=off"], Values(args, "-qmp"));
        Assert.Equal(["socket,id=agent,path=/s/agent.sock,server=on,wait=off"], Values(args, "-chardev"));
        Assert.Equal(["local,id=shared,path=/s/shared,security_model=passthrough,multidevs=remap"], Values(args, "-fsdev"));
        Assert.Equal(
            ["virtio-serial-device", "virtserialport,chardev=agent,name=katasharp.agent", "virtio-9p-device,fsdev=shared,mount_tag=katasharp", "virtio-rng-device",
             "virtio-balloon-device,id=balloon,free-page-reporting=on"],
            Values(args, "-device"));
    }

    [Fact]
    public void A_root_image_is_a_read_only_disk_the_kernel_mounts_instead_of_an_initrd()
    {
        var args = Build(Spec() with { Root = GuestRoot.Image("/g/root.img") });
        Assert.Empty(Values(args, "-initrd"));
        Assert.Equal(["file=/g/root.img,if=none,id=root,format=raw,readonly=on"], Values(args, "-drive"));
        Assert.Contains("virtio-blk-device,drive=root", Values(args, "-device"));
        Assert.Contains(" root=/dev/vda ro rootfstype=erofs init=/init ", Values(args, "-append").Single(), StringComparison.Ordinal);

        var q35 = Build(Spec() with { Root = GuestRoot.Image("/g/root.img") }, machine: "q35");
        Assert.Contains("virtio-blk-pci,drive=root", Values(q35, "-device"));
    }

    [Fact]
    public void An_initramfs_guest_has_no_disk_and_no_root_parameter()
    {
        var args = Build(Spec());
        Assert.Empty(Values(args, "-drive"));
        Assert.DoesNotContain(Values(args, "-device"), d => d.StartsWith("virtio-blk", StringComparison.Ordinal));
        Assert.DoesNotContain("root=", Values(args, "-append").Single(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_root_image_path_with_a_comma_is_refused()
    {
        Assert.Throws<HypervisorException>(() => Build(Spec() with { Root = GuestRoot.Image("/g/a,b.img") }));
    }

    [Fact]
    public void A_guest_without_acpi_gets_a_microvm_without_acpi_and_still_exits_on_reset()
    {
        // Our kernel reads the virtio-mmio devices QEMU puts on its command line; its poweroff is a reset,
        // which -no-reboot and reboot=t turn into QEMU's exit.
        var args = Build(Spec() with { Acpi = false });
        Assert.Equal(["microvm,acpi=off,pit=on,pic=on,rtc=on"], Values(args, "-M"));
        Assert.Contains("-no-reboot", args);
        Assert.Contains("reboot=t", Values(args, "-append").Single(), StringComparison.Ordinal);
    }

    [Fact]
    public void Tcg_kernel_line_carries_the_tsc_fix_and_extra_params_last()
    {
        var append = Values(Build(Spec()), "-append").Single();
        Assert.StartsWith("console=ttyS0 panic=-1 reboot=t no_timer_check quiet", append, StringComparison.Ordinal);
        Assert.Contains($"tsc_early_khz={HostTsc.Khz} tsc=reliable", append, StringComparison.Ordinal);
        Assert.EndsWith("loglevel=7", append, StringComparison.Ordinal);
    }

    [Fact]
    public void The_tcg_guest_is_told_the_hosts_constant_tsc_frequency()
    {
        Assert.Equal(2_596_150, HostTsc.ReadKhz("processor\t: 0\ncpu MHz\t\t: 2596.150\nflags\t\t: fpu tsc constant_tsc nonstop_tsc\n"));
        Assert.Equal(HostTsc.FallbackKhz, HostTsc.ReadKhz("cpu MHz\t\t: 1800.000\nflags\t\t: fpu tsc\n"));
        Assert.Equal(HostTsc.FallbackKhz, HostTsc.ReadKhz(""));
    }

    [Fact]
    public void Kvm_uses_the_host_cpu_and_no_tsc_override()
    {
        var args = Build(Spec(Accelerator.Kvm));
        Assert.Equal(["kvm"], Values(args, "-accel"));
        Assert.Equal(["host"], Values(args, "-cpu"));
        Assert.DoesNotContain("tsc_early_khz", Values(args, "-append").Single(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_vm_with_headroom_boots_with_its_ceiling_and_the_balloon_holds_the_rest()
    {
        var spec = Spec() with { MemoryCeilingMiB = 2048 };
        Assert.Equal(["2048M"], Values(Build(spec), "-m"));
        Assert.Contains("virtio-balloon-pci,id=balloon,free-page-reporting=on", Values(Build(spec, machine: "q35"), "-device"));
    }

    [Fact]
    public void A_vm_with_vcpu_headroom_boots_with_its_ceiling_and_the_guest_onlines_only_its_size()
    {
        var spec = Spec() with { VcpuCeiling = 4 };
        var args = Build(spec);

        Assert.Equal(["4"], Values(args, "-smp"));
        Assert.Contains(" maxcpus=2 ", " " + Assert.Single(Values(args, "-append")) + " ", StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)] // the size itself
    [InlineData(1)] // below it
    public void A_vcpu_ceiling_not_past_the_size_is_no_headroom(int ceiling)
    {
        var args = Build(Spec() with { VcpuCeiling = ceiling });

        Assert.Equal(["2"], Values(args, "-smp"));
        Assert.DoesNotContain("maxcpus=", Assert.Single(Values(args, "-append")), StringComparison.Ordinal);
    }

    [Fact]
    public void A_ceiling_below_the_size_is_no_headroom() =>
        Assert.Equal(["768M"], Values(Build(Spec() with { MemoryCeilingMiB = 256 }), "-m"));

    [Fact]
    public void Virtio_fs_shares_all_the_boot_ram() =>
        Assert.Equal(["memory-backend-memfd,id=mem,size=2048M,share=on"],
            Values(Build(Spec(fs: new SharedFsSpec(SharedFsType.VirtioFs, "/s/shared", VirtiofsdPath: "/v", VirtiofsdSocketPath: "/s/v.sock")) with { MemoryCeilingMiB = 2048 }), "-object"));

    [Fact]
    public void Tb_size_follows_the_qemu_options()
    {
        var args = Build(Spec(), tbSizeMiB: 256);
        Assert.Equal(["tcg,tb-size=256"], Values(args, "-accel"));
    }

    [Fact]
    public void Vsock_replaces_the_serial_port()
    {
        var args = Build(Spec(channel: new AgentChannel(AgentChannelKind.Vsock, Cid: 1234)));
        Assert.Contains("vhost-vsock-device,id=vsock,guest-cid=1234", Values(args, "-device"));
        Assert.DoesNotContain(Values(args, "-device"), d => d.StartsWith("virtserialport", StringComparison.Ordinal));
        Assert.Empty(Values(args, "-chardev"));
    }

    [Fact]
    public void Q35_uses_pci_devices()
    {
        var args = Build(Spec(), machine: "q35");
        Assert.Equal(["q35"], Values(args, "-M"));
        Assert.Contains("virtio-serial-pci", Values(args, "-device"));
        Assert.Contains("virtio-9p-pci,fsdev=shared,mount_tag=katasharp", Values(args, "-device"));
        Assert.Contains("virtio-rng-pci", Values(args, "-device"));
    }

    [Fact]
    public void Virtiofs_needs_shared_memory_and_a_vhost_user_device()
    {
        var args = Build(Spec(fs: new SharedFsSpec(SharedFsType.VirtioFs, "/s/shared", VirtiofsdPath: "/usr/libexec/virtiofsd", VirtiofsdSocketPath: "/s/virtiofsd.sock")));
        Assert.Equal(["microvm,acpi=on,pit=on,pic=on,rtc=on,memory-backend=mem"], Values(args, "-M"));
        Assert.Equal(["memory-backend-memfd,id=mem,size=768M,share=on"], Values(args, "-object"));
        Assert.Contains("socket,id=virtiofs,path=/s/virtiofsd.sock", Values(args, "-chardev"));
        Assert.Contains("vhost-user-fs-device,chardev=virtiofs,tag=katasharp", Values(args, "-device"));
        Assert.Empty(Values(args, "-fsdev"));
    }

    [Fact]
    public void Taps_become_virtio_net_devices_with_the_pod_mac()
    {
        var args = Build(Spec() with { NetworkInterfaces = [new NetworkInterfaceSpec("tap0", "02:42:ac:11:00:02")] });
        Assert.Equal(["tap,id=net0,ifname=tap0,script=no,downscript=no"], Values(args, "-netdev"));
        Assert.Contains("virtio-net-device,netdev=net0,mac=02:42:ac:11:00:02", Values(args, "-device"));
        Assert.Empty(Values(Build(Spec()), "-netdev"));
    }

    [Fact]
    public void Paths_with_commas_are_refused()
    {
        Assert.Throws<HypervisorException>(() => Build(Spec() with { ConsoleLogPath = "/s/a,b/console.log" }));
    }
}

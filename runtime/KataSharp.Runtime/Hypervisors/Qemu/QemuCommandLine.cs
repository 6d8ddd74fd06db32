using System.Globalization;
using KataSharp.Runtime.Storage;

namespace KataSharp.Runtime.Hypervisors.Qemu;

/// <summary>
/// Builds QEMU's argument list for a <see cref="VmSpec"/> and QEMU's own <see cref="QemuOptions"/>. <c>microvm</c> has no PCI bus, so its
/// virtio devices are the virtio-mmio "-device" variants; <c>q35</c> uses the "-pci" ones.
/// </summary>
public static class QemuCommandLine
{
    /// <summary>
    /// The parameters every guest gets. The guest console is ttyS0 (microvm's ISA serial).
    /// panic=-1 plus QEMU's -no-reboot turns a guest panic into a QEMU exit we can see, instead of
    /// a reboot loop; reboot=t makes a guest reboot a triple fault, which -no-reboot also turns into an exit.
    /// no_timer_check, as Kata's and Cloud Hypervisor's kernel lines have: the IO-APIC check counts timer ticks over a
    /// busy-wait of a few tens of milliseconds and panics the guest ("IO-APIC + timer doesn't work!") if too few came.
    /// A vCPU that waits for a host core (TCG on a loaded host, an overcommitted KVM host) misses them, and the VM dies
    /// at boot; the virtual timer it checks is QEMU's own, which works.
    /// </summary>
    public const string BaseKernelParams = "console=ttyS0 panic=-1 reboot=t no_timer_check quiet";

    /// <summary>
    /// Under TCG on microvm (no HPET, no PM timer) the PIT calibration of the TSC is flaky and about one
    /// boot in six hangs ("could not calculate TSC khz"). Telling the kernel the TSC frequency avoids it: the host's
    /// (<see cref="HostTsc"/>), since TCG's TSC is the host's, or the guest's clock runs fast by their ratio.
    /// tsc=reliable, as Kata's x86 kernel line has: without ACPI the only clock to check the TSC against is jiffies,
    /// which lose ticks whenever TCG's vCPU thread waits for a core, so the watchdog threw the TSC out and the guest
    /// kept time by jiffies, seconds behind within a minute. Neither is used under KVM, where the real TSC is known.
    /// </summary>
    public static string TcgKernelParams(long tscKhz) => $"tsc_early_khz={tscKhz} tsc=reliable";

    public static IReadOnlyList<string> Build(VmSpec spec, QemuOptions options)
    {
        foreach (var path in new[] { spec.KernelPath, spec.Root.Path, spec.ConsoleLogPath, spec.Files.ControlSocketPath, spec.Files.PidFilePath,
                     spec.AgentChannel.SocketPath, spec.SharedFs?.HostPath ?? "", spec.SharedFs?.VirtiofsdSocketPath ?? "" })
        {
            // QEMU's option syntax splits on commas; state paths never need one, so refuse rather than escape.
            if (path.Contains(',', StringComparison.Ordinal))
            {
                throw new HypervisorException($"QEMU cannot take a path with a comma: {path}");
            }
        }

        var microvm = options.Machine == "microvm";
        string Device(string name) => name + (microvm ? "-device" : "-pci");
        var args = new List<string>();
        void Add(params string[] values) => args.AddRange(values);

        // acpi=on for Debian's kernel, which finds virtio-mmio devices only through ACPI; without ACPI QEMU puts them on
        // the kernel command line (virtio_mmio.device=), which our kernel reads. pit, pic and rtc on: the set-up
        // guest-image/README.md validated under TCG.
        var machine = microvm ? $"microvm,acpi={(spec.Acpi ? "on" : "off")},pit=on,pic=on,rtc=on" : options.Machine;
        var virtioFs = spec.SharedFs is { Type: SharedFsType.VirtioFs };
        if (virtioFs)
        {
            // vhost-user-fs needs the guest RAM in shared memory that virtiofsd can map.
            machine += ",memory-backend=mem";
        }

        Add("-name", $"{spec.Name},debug-threads=on");
        Add("-M", machine);
        if (spec.Accelerator == Accelerator.Kvm)
        {
            Add("-accel", "kvm", "-cpu", "host");
        }
        else
        {
            Add("-accel", $"tcg,tb-size={Invariant(options.TbSizeMiB)}", "-cpu", "max");
        }

        Add("-smp", Invariant(spec.BootVcpus), "-m", $"{Invariant(spec.BootMemoryMiB)}M");
        if (virtioFs)
        {
            Add("-object", $"memory-backend-memfd,id=mem,size={Invariant(spec.BootMemoryMiB)}M,share=on");
        }

        Add("-nodefaults", "-no-user-config", "-nographic", "-no-reboot");

        // QEMU's seccomp filter: the VMM cannot fork, exec, raise privileges or use obsolete syscalls.
        Add("-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny");

        Add("-kernel", spec.KernelPath, "-append", KernelCommandLine(spec));
        if (spec.Root.Kind == GuestRootKind.Image)
        {
            // readonly=on: QEMU opens the image O_RDONLY and the disk tells the guest it is read-only, so no guest can
            // change what every other VM boots. The host's page cache (QEMU's default cache mode) holds the one copy.
            Add("-drive", $"file={spec.Root.Path},if=none,id=root,format=raw,readonly=on");
            Add("-device", $"{Device("virtio-blk")},drive=root");
        }
        else
        {
            Add("-initrd", spec.Root.Path);
        }

        Add("-serial", $"file:{spec.ConsoleLogPath}");
        Add("-qmp", $"unix:{spec.Files.ControlSocketPath},server=on,wait=off");
        Add("-pidfile", spec.Files.PidFilePath);

        switch (spec.AgentChannel.Kind)
        {
            case AgentChannelKind.Serial:
                Add("-device", Device("virtio-serial"));
                Add("-chardev", $"socket,id=agent,path={spec.AgentChannel.SocketPath},server=on,wait=off");
                Add("-device", $"virtserialport,chardev=agent,name={AgentChannel.SerialPortName}");
                break;
            case AgentChannelKind.Vsock:
                Add("-device", $"{Device("vhost-vsock")},id=vsock,guest-cid={spec.AgentChannel.Cid.ToString(CultureInfo.InvariantCulture)}");
                break;
            default:
                throw new HypervisorException("QEMU has no hybrid vsock; use vsock or serial");
        }

        switch (spec.SharedFs)
        {
            case { Type: SharedFsType.NineP } nineP:
                Add("-fsdev", $"local,id=shared,path={nineP.HostPath},{NinePSharedFilesystem.ExportOptions}");
                Add("-device", $"{Device("virtio-9p")},fsdev=shared,mount_tag={nineP.Tag}");
                break;
            case { Type: SharedFsType.VirtioFs } fs:
                Add("-chardev", $"socket,id=virtiofs,path={fs.VirtiofsdSocketPath}");
                Add("-device", $"{Device("vhost-user-fs")},chardev=virtiofs,tag={fs.Tag}");
                break;
        }

        for (var i = 0; i < spec.NetworkInterfaces.Count; i++)
        {
            var nic = spec.NetworkInterfaces[i];
            if (nic.TapName.Contains(',', StringComparison.Ordinal) || nic.MacAddress.Contains(',', StringComparison.Ordinal))
            {
                throw new HypervisorException($"bad network interface {nic.TapName} {nic.MacAddress}");
            }

            var id = $"net{i.ToString(CultureInfo.InvariantCulture)}";
            // script=no: the runtime has already wired the tap to the pod's veth (tc mirred).
            Add("-netdev", $"tap,id={id},ifname={nic.TapName},script=no,downscript=no");
            Add("-device", $"{Device("virtio-net")},netdev={id},mac={nic.MacAddress}");
        }

        Add("-device", Device("virtio-rng"));

        // The balloon holds the headroom above the pod's size (set over QMP once QEMU runs), and free-page
        // reporting hands the pages the guest frees back to the host, so an idle VM does not keep its peak.
        Add("-device", $"{Device("virtio-balloon")},id=balloon,free-page-reporting=on");
        return args;
    }

    public static string KernelCommandLine(VmSpec spec)
    {
        var parts = new List<string> { BaseKernelParams };
        if (spec.Root.Kind == GuestRootKind.Image)
        {
            parts.Add(GuestRoot.ImageKernelParams);
        }

        if (spec.Accelerator == Accelerator.Tcg)
        {
            parts.Add(TcgKernelParams(HostTsc.Khz));
        }

        if (spec.BootVcpus > spec.Vcpus)
        {
            // The headroom: microvm has no ACPI CPU hotplug, so the VM has every vCPU it may grow to from boot and the
            // guest brings up only the pod's; the rest stay present and offline until the agent onlines them.
            parts.Add($"maxcpus={Invariant(spec.Vcpus)}");
        }

        if (!string.IsNullOrWhiteSpace(spec.ExtraKernelParams))
        {
            parts.Add(spec.ExtraKernelParams.Trim());
        }

        return string.Join(' ', parts);
    }

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);
}

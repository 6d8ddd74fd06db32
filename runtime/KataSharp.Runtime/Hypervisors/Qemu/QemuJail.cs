namespace KataSharp.Runtime.Hypervisors.Qemu;

/// <summary>What QEMU needs inside its <see cref="VmmJail"/> for one VM, and nothing more.</summary>
public static class QemuJail
{
    /// <summary>
    /// 9p with security_model=passthrough makes the guest's owners and modes real on the host, so QEMU
    /// stays root and keeps what the 9p server uses for that: CAP_CHOWN (fchownat to the guest's uid and
    /// gid), CAP_DAC_OVERRIDE (guest root reads and writes files whatever their mode, as it does in the
    /// guest), CAP_FOWNER (chmod and utimensat on files QEMU does not own) and CAP_FSETID (keeps set-id
    /// bits a guest chmod sets; the share's binds are nosuid, so they give nothing on the host).
    /// Left out on purpose: CAP_MKNOD (a guest mknod of a device is refused, so no host device node can be
    /// made), CAP_SETFCAP and CAP_SYS_ADMIN (no file capabilities or trusted.* xattrs), and every other.
    /// </summary>
    public static readonly IReadOnlyList<string> NinePCapabilities = ["chown", "dac_override", "fowner", "fsetid"];

    /// <summary>
    /// QEMU opens each tap with TUNSETIFF at start-up; the runtime creates the taps without an owner,
    /// so attaching to one needs CAP_NET_ADMIN in the pod's network namespace.
    /// </summary>
    public const string TapCapability = "net_admin";

    public static readonly IReadOnlyList<string> BaseDevices = ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"];

    public static VmmJail For(VmSpec spec, string qemuPath)
    {
        var devices = new List<string>(BaseDevices);
        var capabilities = new List<string>();
        if (spec.Accelerator == Accelerator.Kvm)
        {
            devices.Add(AcceleratorSelector.KvmDevice);
        }

        if (spec.AgentChannel.Kind == AgentChannelKind.Vsock)
        {
            devices.Add(ChannelSelector.VhostVsockDevice);
        }

        if (spec.NetworkInterfaces.Count > 0)
        {
            devices.Add("/dev/net/tun");
            capabilities.Add(TapCapability);
        }

        var nineP = spec.SharedFs is { Type: SharedFsType.NineP } share ? share.HostPath : null;
        if (nineP is not null)
        {
            capabilities.AddRange(NinePCapabilities);
        }

        return new VmmJail
        {
            SandboxDirectory = spec.Files.Directory,
            SharedDirectory = nineP,
            ReadOnlyFiles = [qemuPath, spec.KernelPath, spec.Root.Path],
            Devices = devices,
            Capabilities = capabilities,
        };
    }
}

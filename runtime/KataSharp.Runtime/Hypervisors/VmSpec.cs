namespace KataSharp.Runtime.Hypervisors;

/// <summary>
/// What every VMM needs to boot one sandbox VM: the guest, its size, its devices and the files it
/// writes. What only one VMM understands (QEMU's machine type, its TCG cache) is that driver's own
/// options, read from the configuration by the driver. Paths are absolute.
/// </summary>
public sealed record VmSpec
{
    /// <summary>A short name for the VM (shown by ps, e.g. as QEMU's -name).</summary>
    public required string Name { get; init; }

    public required string KernelPath { get; init; }
    /// <summary>The guest's root file system: a read-only image or an initramfs.</summary>
    public required GuestRoot Root { get; init; }

    /// <summary>
    /// Whether the VM has ACPI. Debian's kernel finds virtio-mmio devices only through ACPI; ours reads them from the
    /// command line and boots faster without it (and then ends the VM by a reset, see the agent's PowerControl).
    /// </summary>
    public bool Acpi { get; init; } = true;

    /// <summary>Extra kernel parameters appended after the driver's own.</summary>
    public string ExtraKernelParams { get; init; } = "";

    public required Accelerator Accelerator { get; init; }
    /// <summary>The vCPUs the guest brings online at boot.</summary>
    public int Vcpus { get; init; } = 1;

    /// <summary>
    /// The vCPUs the VM boots with when more than <see cref="Vcpus"/>: the guest leaves the rest offline (<c>maxcpus=</c>)
    /// until its agent onlines them. 0 or less: no headroom.
    /// </summary>
    public int VcpuCeiling { get; init; }

    /// <summary>The vCPUs the VM boots with.</summary>
    public int BootVcpus => Math.Max(Vcpus, VcpuCeiling);

    public int MemoryMiB { get; init; } = 512;

    /// <summary>
    /// The RAM the VM boots with when more than <see cref="MemoryMiB"/>: a balloon holds the difference, and
    /// <see cref="IHypervisor.SetMemoryAsync"/> gives it to the guest later. 0 or less: no headroom.
    /// </summary>
    public int MemoryCeilingMiB { get; init; }

    /// <summary>The RAM the VM boots with.</summary>
    public int BootMemoryMiB => Math.Max(MemoryMiB, MemoryCeilingMiB);

    /// <summary>The guest serial console log.</summary>
    public required string ConsoleLogPath { get; init; }

    /// <summary>Where the VMM process keeps its socket, pid and log.</summary>
    public required VmmFiles Files { get; init; }

    public required AgentChannel AgentChannel { get; init; }
    public SharedFsSpec? SharedFs { get; init; }

    /// <summary>Tap devices (already created, in the VMM's network namespace) to give the guest as virtio-net NICs.</summary>
    public IReadOnlyList<NetworkInterfaceSpec> NetworkInterfaces { get; init; } = [];

    /// <summary>
    /// The network namespace to start the VMM in (a pod's netns, e.g. /var/run/netns/cni-...), or null for
    /// this process's own. The VMM must run there so that its taps, and /proc/&lt;pid&gt;/ns/net, are the pod's.
    /// </summary>
    public string? NetworkNamespacePath { get; init; }
}

/// <summary>
/// The files of a VMM process, under names that do not depend on which VMM it is: its control socket
/// (QEMU's QMP, Cloud Hypervisor's REST API), its pid file and its own stdout and stderr, all in
/// <paramref name="Directory"/>, the sandbox directory and the one host directory the VMM may write in.
/// </summary>
public sealed record VmmFiles(string Directory, string ControlSocketPath, string PidFilePath, string LogPath);

/// <summary>A VMM already running (started by another process, found in state.json): enough to watch and stop it.</summary>
public sealed record RunningVm(ProcessIdentity Process, VmmFiles Files, string ConsoleLogPath);

/// <summary>A tap device and the MAC address the guest NIC gets (the pod veth's, design decision 10).</summary>
public sealed record NetworkInterfaceSpec(string TapName, string MacAddress);

public enum Accelerator
{
    Kvm,
    Tcg,
}

public enum AgentChannelKind
{
    /// <summary>A virtio-serial port whose host end is a Unix socket (QEMU chardev, server side).</summary>
    Serial,

    /// <summary>vhost-vsock: the guest's port 1024 at a context id.</summary>
    Vsock,

    /// <summary>A Unix socket that takes <c>CONNECT &lt;port&gt;\n</c> (Cloud Hypervisor, Firecracker).</summary>
    HybridVsock,
}

/// <summary>Where the host reaches the agent. Serial and hybrid vsock use <see cref="SocketPath"/>; vsock uses <see cref="Cid"/>.</summary>
public sealed record AgentChannel(AgentChannelKind Kind, string SocketPath = "", uint Cid = 0, uint Port = AgentChannel.DefaultPort)
{
    public const uint DefaultPort = 1024;

    /// <summary>The virtio-serial port name the agent looks for in /sys/class/virtio-ports.</summary>
    public const string SerialPortName = "katasharp.agent";
}

public enum SharedFsType
{
    NineP,
    VirtioFs,
}

/// <summary>The host directory exported to the guest, and under which tag.</summary>
public sealed record SharedFsSpec(SharedFsType Type, string HostPath, string Tag = SharedFsSpec.DefaultTag, string VirtiofsdPath = "", string VirtiofsdSocketPath = "")
{
    public const string DefaultTag = "katasharp";
}

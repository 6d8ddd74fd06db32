namespace KataSharp.Runtime.Configuration;

/// <summary>The effective runtime configuration: katasharp.yaml over the built-in defaults, plus allowed pod overrides.</summary>
public sealed record KataSharpConfig
{
    public HypervisorConfig Hypervisor { get; init; } = new();
    public GuestConfig Guest { get; init; } = new();
    public AgentConfig Agent { get; init; } = new();
    public SharedFsConfig SharedFs { get; init; } = new();
    public RuntimeSection Runtime { get; init; } = new();
    public ImagesConfig Images { get; init; } = new();
    public LogConfig Log { get; init; } = new();

    /// <summary>Keys (e.g. <c>hypervisor.vcpus</c>) that pods may override with <c>io.katasharp.config.&lt;key&gt;</c> annotations.</summary>
    public IReadOnlyList<string> EnableAnnotations { get; init; } = [];
}

public sealed record HypervisorConfig
{
    public HypervisorKind Kind { get; init; } = HypervisorKind.Qemu;
    public string Path { get; init; } = "/usr/bin/qemu-system-x86_64";

    /// <summary>Empty means "look next to the executable, then in /usr/share/katasharp/guest".</summary>
    public string Kernel { get; init; } = "";

    /// <summary>Empty means "look next to the executable, then in /usr/share/katasharp/guest".</summary>
    public string Initrd { get; init; } = "";

    /// <summary>The guest's read-only root image (guest.root: image). Empty means "look next to the executable, then in /usr/share/katasharp/guest".</summary>
    public string Image { get; init; } = "";

    public string Machine { get; init; } = "microvm";
    public AccelMode Accel { get; init; } = AccelMode.Auto;
    public int Vcpus { get; init; } = 1;
    public int MemoryMiB { get; init; } = 512;

    /// <summary>The most vCPUs a pod's limits may grow its VM to; 0 means the host's CPU count (as Kata's default_maxvcpus).</summary>
    public int MaxVcpus { get; init; }

    /// <summary>The most memory a pod's limits may grow its VM to; 0 means the host's memory (as Kata's default_maxmemory).</summary>
    public int MaxMemoryMiB { get; init; }

    /// <summary>
    /// The RAM a pod's VM boots with, of which a virtio balloon holds all but the pod's size: UpdateContainerResources
    /// grows the VM up to it by deflating the balloon (microvm has no memory hotplug). The guest's page structures
    /// for all of it cost host memory (64 bytes per 4 KiB page), so it is a bounded headroom, not the host's memory;
    /// 0 means none (the VM keeps its boot size). The katasharp CLI, which cannot update, never uses it.
    /// </summary>
    public int MemoryCeilingMiB { get; init; } = 1024;

    /// <summary>
    /// The vCPUs a pod's VM boots with, of which the guest brings only the pod's online (<c>maxcpus=</c>): a CPU limit
    /// past them onlines more, up to this (microvm has no ACPI CPU hotplug, so the headroom is sized at boot), never past
    /// <see cref="MaxVcpus"/> or the host's CPUs. An offline vCPU is a QEMU thread that never runs: it costs no CPU and
    /// almost no memory (docs/architecture.md has the measurement). 0 means none (the VM keeps its boot vCPUs).
    /// The katasharp CLI, which cannot update, never uses it.
    /// </summary>
    public int VcpuCeiling { get; init; } = 4;

    /// <summary>
    /// TCG translation-block cache size, sized by <c>./build.sh bench tcg</c>: a guest that boots and then serves execs
    /// translates more code than 16 or 32 MiB hold, and each time the cache is full QEMU flushes all of it and the
    /// guest pays to translate it again (about 45 flushes at 16 MiB, 2 at 64, over a boot and 10 execs), so an exec
    /// took about twice as long at 16 MiB. The cache is host memory as it fills: about 18 MiB of PSS per 16 MiB.
    /// QEMU's default is 1 GiB. KVM has no such cache.
    /// </summary>
    public int TbSizeMiB { get; init; } = 64;

    public string KernelParams { get; init; } = "";
    public int BootTimeoutSeconds { get; init; } = 60;
}

/// <summary>What the guest is made of.</summary>
public sealed record GuestConfig
{
    /// <summary>
    /// Which kernel the guest boots. It decides where the default kernel and initrd are (guest/&lt;kind&gt;/) and how the
    /// VM is built: ours finds its virtio-mmio devices on the command line, so its VM has no ACPI; Debian's needs ACPI.
    /// An explicit hypervisor.kernel must be of this kind.
    /// </summary>
    public GuestKernelKind Kernel { get; init; } = GuestKernelKind.KataSharp;

    /// <summary>How the guest's root reaches it; auto is the image with our kernel and the initramfs with Debian's.</summary>
    public GuestRootSetting Root { get; init; } = GuestRootSetting.Auto;
}

/// <summary>guest.root: the kernel's own choice, or one of <see cref="Hypervisors.GuestRootKind"/>.</summary>
public enum GuestRootSetting
{
    Auto,
    Image,
    Initramfs,
}

/// <summary>The guest kernels guest-image/build.sh makes.</summary>
public enum GuestKernelKind
{
    /// <summary>Our own: tinyconfig plus guest-image/kernel/katasharp.config, every driver built in, no modules.</summary>
    KataSharp,

    /// <summary>Debian's generic kernel; the agent loads its modules at boot.</summary>
    Debian,
}

public sealed record AgentConfig
{
    public AgentTransportKind Transport { get; init; } = AgentTransportKind.Auto;
    public int DialTimeoutSeconds { get; init; } = 5;
    public int RequestTimeoutSeconds { get; init; } = 30;
}

public sealed record SharedFsConfig
{
    public SharedFsKind Kind { get; init; } = SharedFsKind.Auto;
    public string VirtiofsdPath { get; init; } = "/usr/libexec/virtiofsd";
}

public sealed record RuntimeSection
{
    public string StateDir { get; init; } = "/run/katasharp";

    /// <summary>
    /// A test seam: sandbox creation fails on purpose right after this host-side step, so that tests can
    /// see every earlier step undone. Only katasharp.yaml sets it, never a pod annotation.
    /// </summary>
    public FaultPoint FailAfter { get; init; } = FaultPoint.None;
}

/// <summary>The host-side steps of a sandbox's creation after which <see cref="RuntimeSection.FailAfter"/> can fail it.</summary>
public enum FaultPoint
{
    None,

    /// <summary>The share's mounts (<c>mounts/</c> and its read-only view <c>shared/</c>) exist.</summary>
    Mounts,

    /// <summary>The network is attached: the taps exist in the pod's namespace.</summary>
    Taps,

    /// <summary>The VMM process runs and answers on its control socket.</summary>
    Vmm,
}

public sealed record ImagesConfig
{
    /// <summary>
    /// The image cache (blobs, unpacked layers, the image list). Persistent, as containerd's content under /var/lib/containerd:
    /// under the state directory (a tmpfs in /run) every reboot would pull and unpack every image again.
    /// </summary>
    public string CacheDir { get; init; } = "/var/lib/katasharp/images";

    /// <summary>The most one image may unpack to on the host's disk (a gzip bomb stops here).</summary>
    public int MaxUnpackedGiB { get; init; } = (int)(Images.OciImageUnpacker.DefaultMaxUnpackedBytes >> 30);

    public long MaxUnpackedBytes => (long)MaxUnpackedGiB << 30;
}

public sealed record LogConfig
{
    /// <summary>The least level the shim logs (and its agent, through the kernel command line); containerd's -debug lowers it to debug.</summary>
    public Microsoft.Extensions.Logging.LogLevel Level { get; init; } = Microsoft.Extensions.Logging.LogLevel.Information;
}

public enum HypervisorKind
{
    Qemu,
}

public enum AccelMode
{
    Auto,
    Kvm,
    Tcg,
}

public enum AgentTransportKind
{
    Auto,
    Vsock,
    Serial,
    HybridVsock,
}

public enum SharedFsKind
{
    Auto,
    NineP,
    VirtioFs,
}

using System.Globalization;

namespace KataSharp.Runtime.Configuration;

/// <summary>
/// One scalar configuration key: how to parse it onto a configuration and how to print it back.
/// The YAML loader and the annotation overrides share this table, so a key means the same in both.
/// </summary>
internal sealed record ConfigKey(
    string Name,
    string ValueDescription,
    Func<KataSharpConfig, string, KataSharpConfig> Apply,
    Func<KataSharpConfig, string> Format,
    bool Overridable = true);

/// <summary>The table of every scalar key that katasharp.yaml accepts.</summary>
internal static class ConfigKeys
{
    public const string EnableAnnotationsKey = "enableAnnotations";

    public static readonly (string Name, HypervisorKind Value)[] HypervisorKinds = [("qemu", HypervisorKind.Qemu)];
    public static readonly (string Name, AccelMode Value)[] AccelModes = [("auto", AccelMode.Auto), ("kvm", AccelMode.Kvm), ("tcg", AccelMode.Tcg)];
    public static readonly (string Name, AgentTransportKind Value)[] Transports =
        [("auto", AgentTransportKind.Auto), ("vsock", AgentTransportKind.Vsock), ("serial", AgentTransportKind.Serial), ("hybrid-vsock", AgentTransportKind.HybridVsock)];
    public static readonly (string Name, SharedFsKind Value)[] SharedFsKinds = [("auto", SharedFsKind.Auto), ("9p", SharedFsKind.NineP), ("virtiofs", SharedFsKind.VirtioFs)];

    public static readonly (string Name, GuestKernelKind Value)[] GuestKernels = [("katasharp", GuestKernelKind.KataSharp), ("debian", GuestKernelKind.Debian)];
    public static readonly (string Name, GuestRootSetting Value)[] GuestRoots =
        [("auto", GuestRootSetting.Auto), ("image", GuestRootSetting.Image), ("initramfs", GuestRootSetting.Initramfs)];

    public static readonly (string Name, FaultPoint Value)[] FaultPoints = [("none", FaultPoint.None), ("mounts", FaultPoint.Mounts), ("taps", FaultPoint.Taps), ("vmm", FaultPoint.Vmm)];

    public static readonly IReadOnlyList<ConfigKey> All =
    [
        // Paths that name executables or the state directory are never overridable: a pod annotation
        // choosing the binary the host runs as root would be a privilege escalation.
        new("hypervisor.kind", "qemu", (c, v) => c with { Hypervisor = c.Hypervisor with { Kind = ParseEnum(v, HypervisorKinds) } },
            c => Name(HypervisorKinds, c.Hypervisor.Kind), Overridable: false),
        new("hypervisor.path", "a path", (c, v) => c with { Hypervisor = c.Hypervisor with { Path = ParsePath(v) } },
            c => c.Hypervisor.Path, Overridable: false),
        new("hypervisor.kernel", "a path", (c, v) => c with { Hypervisor = c.Hypervisor with { Kernel = ParsePathOrEmpty(v) } },
            c => c.Hypervisor.Kernel, Overridable: false),
        new("hypervisor.initrd", "a path", (c, v) => c with { Hypervisor = c.Hypervisor with { Initrd = ParsePathOrEmpty(v) } },
            c => c.Hypervisor.Initrd, Overridable: false),
        new("hypervisor.image", "a path", (c, v) => c with { Hypervisor = c.Hypervisor with { Image = ParsePathOrEmpty(v) } },
            c => c.Hypervisor.Image, Overridable: false),
        new("hypervisor.machine", "microvm or q35", (c, v) => c with { Hypervisor = c.Hypervisor with { Machine = ParseChoice(v, "microvm", "q35") } },
            c => c.Hypervisor.Machine),
        new("hypervisor.accel", "auto, kvm or tcg", (c, v) => c with { Hypervisor = c.Hypervisor with { Accel = ParseEnum(v, AccelModes) } },
            c => Name(AccelModes, c.Hypervisor.Accel)),
        new("hypervisor.vcpus", "an integer from 1 to 256", (c, v) => c with { Hypervisor = c.Hypervisor with { Vcpus = ParseInt(v, 1, 256) } },
            c => Invariant(c.Hypervisor.Vcpus)),
        new("hypervisor.memoryMiB", "an integer from 64 to 1048576", (c, v) => c with { Hypervisor = c.Hypervisor with { MemoryMiB = ParseInt(v, 64, 1 << 20) } },
            c => Invariant(c.Hypervisor.MemoryMiB)),
        // The caps on what a pod's limits may ask for are the operator's: a pod raising its own cap would make it no cap.
        new("hypervisor.maxVcpus", "0 (the host's CPUs) or an integer from 1 to 256", (c, v) => c with { Hypervisor = c.Hypervisor with { MaxVcpus = ParseInt(v, 0, 256) } },
            c => Invariant(c.Hypervisor.MaxVcpus), Overridable: false),
        new("hypervisor.maxMemoryMiB", "0 (the host's memory) or an integer from 64 to 1048576", (c, v) => c with { Hypervisor = c.Hypervisor with { MaxMemoryMiB = ParseMax(v, 64, 1 << 20) } },
            c => Invariant(c.Hypervisor.MaxMemoryMiB), Overridable: false),
        new("hypervisor.memoryCeilingMiB", "0 (no headroom) or an integer from 64 to 1048576", (c, v) => c with { Hypervisor = c.Hypervisor with { MemoryCeilingMiB = ParseMax(v, 64, 1 << 20) } },
            c => Invariant(c.Hypervisor.MemoryCeilingMiB), Overridable: false),
        new("hypervisor.vcpuCeiling", "0 (no headroom) or an integer from 1 to 256", (c, v) => c with { Hypervisor = c.Hypervisor with { VcpuCeiling = ParseInt(v, 0, 256) } },
            c => Invariant(c.Hypervisor.VcpuCeiling), Overridable: false),
        new("hypervisor.tbSizeMiB", "an integer from 1 to 4096", (c, v) => c with { Hypervisor = c.Hypervisor with { TbSizeMiB = ParseInt(v, 1, 4096) } },
            c => Invariant(c.Hypervisor.TbSizeMiB)),
        new("hypervisor.kernelParams", "a string", (c, v) => c with { Hypervisor = c.Hypervisor with { KernelParams = ParseKernelParams(v) } },
            c => c.Hypervisor.KernelParams),
        new("hypervisor.bootTimeoutSeconds", "an integer from 1 to 3600", (c, v) => c with { Hypervisor = c.Hypervisor with { BootTimeoutSeconds = ParseInt(v, 1, 3600) } },
            c => Invariant(c.Hypervisor.BootTimeoutSeconds)),
        // Which kernel the host boots is the operator's choice, like hypervisor.kernel itself.
        new("guest.kernel", "katasharp or debian", (c, v) => c with { Guest = c.Guest with { Kernel = ParseEnum(v, GuestKernels) } },
            c => Name(GuestKernels, c.Guest.Kernel), Overridable: false),
        new("guest.root", "auto, image or initramfs", (c, v) => c with { Guest = c.Guest with { Root = ParseEnum(v, GuestRoots) } },
            c => Name(GuestRoots, c.Guest.Root), Overridable: false),
        new("agent.transport", "auto, vsock, serial or hybrid-vsock", (c, v) => c with { Agent = c.Agent with { Transport = ParseEnum(v, Transports) } },
            c => Name(Transports, c.Agent.Transport)),
        new("agent.dialTimeoutSeconds", "an integer from 1 to 3600", (c, v) => c with { Agent = c.Agent with { DialTimeoutSeconds = ParseInt(v, 1, 3600) } },
            c => Invariant(c.Agent.DialTimeoutSeconds)),
        new("agent.requestTimeoutSeconds", "an integer from 1 to 3600", (c, v) => c with { Agent = c.Agent with { RequestTimeoutSeconds = ParseInt(v, 1, 3600) } },
            c => Invariant(c.Agent.RequestTimeoutSeconds)),
        new("sharedFs.kind", "auto, 9p or virtiofs", (c, v) => c with { SharedFs = c.SharedFs with { Kind = ParseEnum(v, SharedFsKinds) } },
            c => Name(SharedFsKinds, c.SharedFs.Kind)),
        new("sharedFs.virtiofsdPath", "a path", (c, v) => c with { SharedFs = c.SharedFs with { VirtiofsdPath = ParsePath(v) } },
            c => c.SharedFs.VirtiofsdPath, Overridable: false),
        new("runtime.stateDir", "a path", (c, v) => c with { Runtime = c.Runtime with { StateDir = ParsePath(v) } },
            c => c.Runtime.StateDir, Overridable: false),
        // A fault a pod could switch on for itself would be a way to make the host fail at will.
        new("runtime.failAfter", "none, mounts, taps or vmm (tests only)", (c, v) => c with { Runtime = c.Runtime with { FailAfter = ParseEnum(v, FaultPoints) } },
            c => Name(FaultPoints, c.Runtime.FailAfter), Overridable: false),
        new("images.cacheDir", "a path", (c, v) => c with { Images = c.Images with { CacheDir = ParsePath(v) } },
            c => c.Images.CacheDir, Overridable: false),
        // A pod must not raise the host's own disk guard.
        new("images.maxUnpackedGiB", "an integer from 1 to 65536", (c, v) => c with { Images = c.Images with { MaxUnpackedGiB = ParseInt(v, 1, 65536) } },
            c => Invariant(c.Images.MaxUnpackedGiB), Overridable: false),
        new("log.level", "trace, debug, info, warning or error", (c, v) => c with { Log = c.Log with { Level = ParseLogLevel(v) } },
            c => Protocol.Logging.LogLevelSwitch.Name(c.Log.Level)),
    ];

    private static readonly Dictionary<string, ConfigKey> ByName = All.ToDictionary(k => k.Name, StringComparer.Ordinal);

    public static ConfigKey? Find(string name) => ByName.GetValueOrDefault(name);

    /// <summary>The section names (<c>hypervisor</c>, <c>agent</c>, ...) that hold scalar keys.</summary>
    public static IEnumerable<string> Sections => All.Select(k => k.Name[..k.Name.IndexOf('.', StringComparison.Ordinal)]).Distinct();

    public static string Name<T>((string Name, T Value)[] table, T value) where T : struct, Enum =>
        table.First(e => EqualityComparer<T>.Default.Equals(e.Value, value)).Name;

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static T ParseEnum<T>(string value, (string Name, T Value)[] table) where T : struct, Enum
    {
        foreach (var (name, v) in table)
        {
            if (string.Equals(name, value, StringComparison.Ordinal))
            {
                return v;
            }
        }

        throw new FormatException($"'{value}' is not one of: {string.Join(", ", table.Select(e => e.Name))}");
    }

    private static string ParseChoice(string value, params string[] choices) =>
        choices.Contains(value, StringComparer.Ordinal)
            ? value
            : throw new FormatException($"'{value}' is not one of: {string.Join(", ", choices)}");

    private static int ParseInt(string value, int min, int max)
    {
        if (!int.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var result))
        {
            throw new FormatException($"'{value}' is not an integer");
        }

        if (result < min || result > max)
        {
            throw new FormatException($"{result} is out of range ({min} to {max})");
        }

        return result;
    }

    /// <summary>0 for "no cap of its own", or an integer in range.</summary>
    private static int ParseMax(string value, int min, int max) => value == "0" ? 0 : ParseInt(value, min, max);

    private static Microsoft.Extensions.Logging.LogLevel ParseLogLevel(string value) =>
        Protocol.Logging.LogLevelSwitch.Parse(value) is { } level && value == value.ToLowerInvariant()
            ? level
            : throw new FormatException($"'{value}' is not one of: trace, debug, info, warning, error");

    private static string ParsePath(string value) =>
        value.Length == 0 ? throw new FormatException("the path is empty")
        : value.Contains('\0', StringComparison.Ordinal) ? throw new FormatException("the path contains a NUL character")
        : value;

    private static string ParsePathOrEmpty(string value) => value.Length == 0 ? value : ParsePath(value);

    private static string ParseKernelParams(string value) =>
        value.Any(char.IsControl) ? throw new FormatException("kernel parameters must be one line of printable text") : value.Trim();
}

using System.Text.RegularExpressions;

namespace KataSharp.Runtime.Configuration;

/// <summary>
/// The kernel options the runtime relies on in a guest kernel, and a guest image's kernel <c>.config</c> checked against
/// them. The image build keeps the kernel's config beside it as <see cref="FileName"/>, so <c>katasharp check</c> can
/// name what a kernel lacks before a VM stops at boot. The agent's boot check asks for a subset of these (a unit test
/// holds the two together); the rest are the devices the runtime attaches and how it boots the kernel.
/// </summary>
public static partial class GuestKernelConfig
{
    public const string FileName = "kernel.config";

    /// <summary>One option and who needs it.</summary>
    public sealed record Option(string Name, string Why);

    public static readonly IReadOnlyList<Option> Required =
    [
        new("CONFIG_PVH", "QEMU boots the uncompressed vmlinux through its PVH entry"),
        new("CONFIG_BLK_DEV_INITRD", "the initramfs root (guest.root: initramfs, and Debian's kernel)"),
        new("CONFIG_VIRTIO_BLK", "the read-only root image's disk (guest.root: image)"),
        new("CONFIG_EROFS_FS", "the read-only root image's file system (guest.root: image)"),
        new("CONFIG_DEVTMPFS_MOUNT", "the root image's /dev, mounted before the agent starts"),
        new("CONFIG_SERIAL_8250_CONSOLE", "the guest console the runtime logs (console.log)"),
        new("CONFIG_VIRTIO", "every device the runtime attaches is virtio"),
        new("CONFIG_VIRTIO_CONSOLE", "the agent channel over virtio-serial"),
        new("CONFIG_VIRTIO_NET", "the sandbox's network"),
        new("CONFIG_NET_9P_VIRTIO", "the 9p share"),
        new("CONFIG_9P_FS", "the 9p share"),
        new("CONFIG_VIRTIO_FS", "the virtio-fs share"),
        new("CONFIG_OVERLAY_FS", "image rootfs overlays in the guest"),
        new("CONFIG_PROC_FS", "the agent's /proc"),
        new("CONFIG_SYSFS", "the agent's /sys"),
        new("CONFIG_DEVTMPFS", "the agent's /dev"),
        new("CONFIG_TMPFS", "the agent's run directories"),
        new("CONFIG_UNIX98_PTYS", "terminals (run -t)"),
        new("CONFIG_POSIX_MQUEUE", "the container's /dev/mqueue"),
        new("CONFIG_CGROUPS", "container cgroups and cgroup namespaces"),
        new("CONFIG_CGROUP_SCHED", "the cpu controller (--cpus)"),
        new("CONFIG_CPUSETS", "the cpuset controller"),
        new("CONFIG_MEMCG", "the memory controller (--memory, OOM reports)"),
        new("CONFIG_BLK_CGROUP", "the io controller"),
        new("CONFIG_CGROUP_PIDS", "the pids controller"),
        new("CONFIG_SECCOMP_FILTER", "crun's seccomp profiles"),
        new("CONFIG_BPF_SYSCALL", "crun's cgroup device filter"),
        new("CONFIG_UTS_NS", "container namespaces"),
        new("CONFIG_IPC_NS", "container namespaces"),
        new("CONFIG_PID_NS", "container namespaces"),
        new("CONFIG_NET_NS", "container namespaces"),
        new("CONFIG_USER_NS", "container namespaces"),
        new("CONFIG_IPV6", "the guest's network stack as the agent configures it"),
        new("CONFIG_MAGIC_SYSRQ", "the agent's crash and reboot paths (/proc/sysrq-trigger)"),
    ];

    /// <summary>Where an image keeps the config of <paramref name="kernel"/>: beside it.</summary>
    public static string PathBeside(string kernel) => Path.Combine(Path.GetDirectoryName(Path.GetFullPath(kernel)) ?? "/", FileName);

    /// <summary>Kconfig's .config syntax: <c>CONFIG_X=value</c>, and <c># CONFIG_X is not set</c> for n.</summary>
    public static Dictionary<string, string> Parse(string text)
    {
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n'))
        {
            if (SetOption().Match(line) is { Success: true } set)
            {
                options[set.Groups[1].Value] = set.Groups[2].Value;
            }
            else if (UnsetOption().Match(line) is { Success: true } unset)
            {
                options[unset.Groups[1].Value] = "n";
            }
        }

        return options;
    }

    /// <summary>
    /// The required options <paramref name="config"/> neither builds in (y) nor as a module (m); a module is the image's to
    /// load at boot, which the agent's own boot check then sees.
    /// </summary>
    public static IReadOnlyList<Option> Missing(IReadOnlyDictionary<string, string> config) =>
        Required.Where(o => config.GetValueOrDefault(o.Name, "n") is not ("y" or "m")).ToList();

    [GeneratedRegex(@"^(CONFIG_[A-Za-z0-9_]+)=(.*?)\r?$")]
    private static partial Regex SetOption();

    [GeneratedRegex(@"^# (CONFIG_[A-Za-z0-9_]+) is not set\r?$")]
    private static partial Regex UnsetOption();
}

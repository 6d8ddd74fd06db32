using KataSharp.Agent.Init;
using Microsoft.Extensions.Logging.Abstractions;

namespace KataSharp.Tests.Unit.Agent;

public sealed class KernelRequirementsTests
{
    private static readonly string[] Paths =
    [
        "/proc/sys/kernel/seccomp/actions_avail", "/proc/sys/kernel/unprivileged_bpf_disabled", "/proc/self/ns/cgroup",
        "/proc/self/ns/uts", "/proc/self/ns/ipc", "/proc/self/ns/pid", "/proc/self/ns/net", "/proc/self/ns/user",
        "/proc/sys/net/ipv6", "/proc/sysrq-trigger",
    ];

    private const string ProcFilesystems = "nodev\tsysfs\nnodev\ttmpfs\nnodev\tproc\nnodev\tdevtmpfs\nnodev\tcgroup2\nnodev\tdevpts\n"
        + "nodev\tmqueue\nnodev\toverlay\nnodev\t9p\n\text4\n\terofs\n";

    private static KernelView Complete(string filesystems = ProcFilesystems, string controllers = "cpuset cpu io memory hugetlb pids",
        params string[] absentPaths) => new(
        KernelView.ParseFileSystems(filesystems),
        controllers.Split(' ').ToHashSet(),
        path => Paths.Contains(path) && !absentPaths.Contains(path));

    [Fact]
    public void A_kernel_with_everything_meets_all_requirements()
    {
        Assert.Empty(KernelRequirements.Missing(Complete()));
        new KernelRequirements(NullLogger<KernelRequirements>.Instance).EnsureMet(Complete());
    }

    [Fact]
    public void Proc_filesystems_lines_give_the_names_with_and_without_nodev()
    {
        var names = KernelView.ParseFileSystems(ProcFilesystems);
        Assert.Contains("9p", names);
        Assert.Contains("ext4", names);
        Assert.DoesNotContain("nodev", names);
    }

    [Fact]
    public void Each_missing_piece_is_named_with_the_option_that_gives_it()
    {
        var kernel = Complete(ProcFilesystems.Replace("nodev\t9p\n", "", StringComparison.Ordinal), "cpuset cpu io pids", "/proc/sys/kernel/seccomp/actions_avail");
        var error = Assert.Throws<KernelRequirementException>(() => new KernelRequirements(NullLogger<KernelRequirements>.Instance).EnsureMet(kernel));
        Assert.Contains("file system 9p (CONFIG_9P_FS)", error.Message, StringComparison.Ordinal);
        Assert.Contains("cgroup controller memory (CONFIG_MEMCG)", error.Message, StringComparison.Ordinal);
        Assert.Contains("seccomp filters (CONFIG_SECCOMP_FILTER)", error.Message, StringComparison.Ordinal);
        Assert.Equal(3, KernelRequirements.Missing(kernel).Count);
        Assert.DoesNotContain("overlay", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Proc_cgroups_gives_the_enabled_controllers_with_cgroup2_names()
    {
        // As 6.1 prints it before any hierarchy is mounted (hierarchy 0 everywhere); hugetlb disabled on purpose.
        const string procCgroups = "#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpuset\t0\t1\t1\ncpu\t0\t1\t1\n"
            + "cpuacct\t0\t1\t1\nblkio\t0\t1\t1\nmemory\t0\t1\t1\nhugetlb\t0\t1\t0\npids\t0\t1\t1\n";
        var controllers = KernelView.ParseCgroupControllers(procCgroups);
        Assert.Equal(["cpu", "cpuacct", "cpuset", "io", "memory", "pids"], controllers.Order(StringComparer.Ordinal));
        var kernel = new KernelView(KernelView.ParseFileSystems(ProcFilesystems), controllers, Paths.Contains);
        Assert.Empty(KernelRequirements.Missing(kernel));
    }

    [Fact]
    public void A_guest_that_shows_nothing_misses_everything()
    {
        var nothing = new KernelView(new HashSet<string>(), new HashSet<string>(), _ => false);
        Assert.Equal(KernelRequirements.All.Count, KernelRequirements.Missing(nothing).Count);
    }
}

using System.Globalization;
using KataSharp.Runtime.Hypervisors.Qemu;
using KataSharp.Tests.Integration.Infrastructure;

namespace KataSharp.Tests.Integration.Security;

/// <summary>
/// The running QEMU, seen from the host: its capability bounding set holds only what 9p passthrough
/// needs, it has no_new_privs and its seccomp filter, and its mount namespace holds its read-only
/// tmpfs root, /usr, a few device nodes, its guest kernel and initrd, and its own sandbox directory.
/// </summary>
[Collection(SharedSandboxCollection.Name)]
public sealed class VmmConfinementTests(SharedSandboxFixture fixture)
{
    /// <summary>capability(7) numbers of the names QemuJail keeps.</summary>
    private static readonly Dictionary<string, int> CapabilityBits = new(StringComparer.Ordinal)
    {
        ["chown"] = 0, ["dac_override"] = 1, ["fowner"] = 3, ["fsetid"] = 4, ["net_admin"] = 12,
    };

    [Fact]
    public async Task Qemu_keeps_only_its_capabilities_and_runs_with_no_new_privs_and_seccomp()
    {
        var status = (await File.ReadAllLinesAsync($"/proc/{fixture.Sandbox.Hypervisor.Pid}/status"))
            .Select(l => l.Split(':', 2)).ToDictionary(p => p[0], p => p[1].Trim(), StringComparer.Ordinal);
        var kept = fixture.Sandbox.State.SharedFs == "NineP" ? QemuJail.NinePCapabilities : [];
        var expected = kept.Aggregate(0UL, (mask, name) => mask | (1UL << CapabilityBits[name]));

        TestLog.Write($"QEMU pid {fixture.Sandbox.Hypervisor.Pid}: CapEff {status["CapEff"]} CapBnd {status["CapBnd"]} NoNewPrivs {status["NoNewPrivs"]} Seccomp {status["Seccomp"]}");
        Assert.Equal(expected, ulong.Parse(status["CapBnd"], NumberStyles.HexNumber, CultureInfo.InvariantCulture));
        Assert.Equal(expected, ulong.Parse(status["CapEff"], NumberStyles.HexNumber, CultureInfo.InvariantCulture));
        Assert.Equal(0UL, ulong.Parse(status["CapAmb"], NumberStyles.HexNumber, CultureInfo.InvariantCulture));
        Assert.Equal("1", status["NoNewPrivs"]);
        Assert.Equal("2", status["Seccomp"]);
    }

    [Fact]
    public async Task Qemu_sees_only_its_own_mounts()
    {
        var pid = fixture.Sandbox.Hypervisor.Pid;
        var mounts = (await File.ReadAllLinesAsync($"/proc/{pid}/mountinfo")).Select(l => l.Split(' ')).ToList();
        TestLog.Write($"QEMU pid {pid} mountinfo:\n{string.Join('\n', mounts.Select(m => string.Join(' ', m)))}");
        var root = Assert.Single(mounts, m => m[4] == "/");
        Assert.StartsWith("ro,", root[5], StringComparison.Ordinal);
        Assert.Equal("tmpfs", root[Array.IndexOf(root, "-") + 1]);

        var sandbox = fixture.Sandbox.Paths.Directory;
        var config = TestEnvironment.LoadConfig();
        var guestRoot = KataSharp.Runtime.Configuration.GuestAssets.ResolveRoot(config).Path;
        var allowed = new[] { "/usr", KataSharp.Runtime.Configuration.GuestAssets.ResolveKernel(config), guestRoot };
        Assert.StartsWith("ro,", Assert.Single(mounts, m => m[4] == guestRoot)[5], StringComparison.Ordinal);
        foreach (var mount in mounts.Where(m => m[4] != "/"))
        {
            var point = mount[4];
            Assert.True(allowed.Contains(point) || point.StartsWith("/dev/", StringComparison.Ordinal) || point == "/proc/self" || point == sandbox || point.StartsWith(sandbox + "/", StringComparison.Ordinal),
                $"QEMU sees {point}, which is not its own");
        }

        Assert.Contains(mounts, m => m[4] == sandbox);
        Assert.DoesNotContain(mounts, m => m[4] is "/proc" or "/sys" or "/etc" or "/tmp" or "/run");

        // /proc/self is QEMU's own /proc/<pid> (9p changes modes through /proc/self/fd/N), not a whole procfs.
        var self = Assert.Single(mounts, m => m[4] == "/proc/self");
        Assert.Equal($"/{pid}", self[3]);
    }
}

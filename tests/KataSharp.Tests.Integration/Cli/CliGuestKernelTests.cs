using KataSharp.Tests.EndToEnd;
using KataSharp.Tests.Integration.Infrastructure;

namespace KataSharp.Tests.Integration.Cli;

/// <summary>
/// guest.kernel picks the kernel. The rest of the suite boots the one the build made the default; this boots the other
/// one, found by its name in guest/&lt;kind&gt;/ next to the CLI with the VM built for it, so both stay covered
/// (ours, and Debian's as the documented fallback) whichever is the default.
/// </summary>
public sealed class CliGuestKernelTests
{
    [Fact]
    public async Task The_other_guest_kernel_boots_when_guest_kernel_names_it()
    {
        TestEnvironment.RequirePrerequisites();
        var other = BuiltGuestKernel.KindOf(TestEnvironment.GuestDirectory) == "katasharp" ? "debian" : "katasharp";
        var release = File.ReadAllText(Path.Combine(TestEnvironment.GuestDirectory, other, "kernel-release")).Trim();
        Assert.NotEqual(TestEnvironment.KernelRelease, release);
        var config = Path.Combine(TestEnvironment.NewWorkDirectory("kernel"), "katasharp.yaml");
        File.WriteAllText(config, $"""
            hypervisor:
              bootTimeoutSeconds: 90
            guest:
              kernel: {other}
            agent:
              requestTimeoutSeconds: 60
            runtime:
              stateDir: "{TestEnvironment.StateDirectory}"
            """);

        var result = await KatasharpCli.RunAsync("--config", config, "run", "--", "uname", "-r");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(release, result.Stdout.Trim());
        CliAssert.NoSandboxes();
    }

    [Fact]
    public async Task Our_kernel_boots_from_its_initramfs_when_guest_root_says_so()
    {
        TestEnvironment.RequirePrerequisites();
        var guest = Path.Combine(TestEnvironment.GuestDirectory, "katasharp");
        var config = Path.Combine(TestEnvironment.NewWorkDirectory("root"), "katasharp.yaml");
        File.WriteAllText(config, $"""
            hypervisor:
              kernel: "{Path.Combine(guest, "vmlinux")}"
              initrd: "{Path.Combine(guest, "initrd.img")}"
              bootTimeoutSeconds: 90
            guest:
              kernel: katasharp
              root: initramfs
            agent:
              requestTimeoutSeconds: 60
            runtime:
              stateDir: "{TestEnvironment.StateDirectory}"
            """);

        // The container sees the guest kernel's command line: no root= there, so the kernel ran the initramfs's /init.
        var result = await KatasharpCli.RunAsync("--config", config, "run", "--", "cat", "/proc/cmdline");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.DoesNotContain("root=", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("console=ttyS0", result.Stdout, StringComparison.Ordinal);
        CliAssert.NoSandboxes();
    }
}

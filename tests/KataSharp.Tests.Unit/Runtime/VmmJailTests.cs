using System.Diagnostics;
using KataSharp.Native.Files;
using KataSharp.Native.Mounts;
using KataSharp.Runtime.Hypervisors;
using KataSharp.Runtime.Hypervisors.Qemu;
using KataSharp.Runtime.Storage;
using KataSharp.Tests.Unit.Native;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace KataSharp.Tests.Unit.Runtime;

public sealed class VmmJailTests : IDisposable
{
    private readonly string _base = Directory.CreateTempSubdirectory("ks-jail-").FullName;

    public void Dispose()
    {
        MountedDirectory.UnmountAndDelete(_base, NullLogger.Instance);
    }

    private static VmSpec Spec(string dir) => new()
    {
        Name = "katasharp-j",
        KernelPath = "/g/vmlinux",
        Root = GuestRoot.Image("/g/root.img"),
        Accelerator = Accelerator.Tcg,
        ConsoleLogPath = dir + "/console.log",
        Files = new VmmFiles(dir, dir + "/vmm.sock", dir + "/vmm.pid", dir + "/vmm.log"),
        AgentChannel = new AgentChannel(AgentChannelKind.Serial, dir + "/agent.sock"),
        SharedFs = new SharedFsSpec(SharedFsType.NineP, dir + "/shared"),
    };

    [Fact]
    public void Qemu_with_9p_keeps_only_what_passthrough_needs()
    {
        var jail = QemuJail.For(Spec("/s"), "/usr/bin/qemu-system-x86_64");
        Assert.Equal(["chown", "dac_override", "fowner", "fsetid"], jail.Capabilities);
        Assert.Equal(QemuJail.BaseDevices, jail.Devices);
        Assert.Equal("/s", jail.SandboxDirectory);
        Assert.Equal("/s/shared", jail.SharedDirectory);
    }

    [Fact]
    public void Kvm_vsock_and_taps_add_their_devices_and_taps_net_admin()
    {
        var spec = Spec("/s") with
        {
            Accelerator = Accelerator.Kvm,
            AgentChannel = new AgentChannel(AgentChannelKind.Vsock, Cid: 9),
            NetworkInterfaces = [new NetworkInterfaceSpec("tap0_ks", "02:00:00:00:00:01")],
            SharedFs = new SharedFsSpec(SharedFsType.VirtioFs, "/s/shared", VirtiofsdSocketPath: "/s/virtiofsd.sock"),
        };
        var jail = QemuJail.For(spec, "/usr/bin/qemu-system-x86_64");
        Assert.Equal([.. QemuJail.BaseDevices, "/dev/kvm", "/dev/vhost-vsock", "/dev/net/tun"], jail.Devices);
        Assert.Equal(["net_admin"], jail.Capabilities);
        Assert.Null(jail.SharedDirectory);
    }

    [Fact]
    public void The_wrapped_command_ends_with_the_VMM_and_its_arguments_unchanged()
    {
        var (path, args) = QemuJail.For(Spec("/s"), "/usr/bin/qemu-system-x86_64").Wrap("/usr/bin/qemu-system-x86_64", ["-name", "a b", "--"]);
        Assert.Equal("/bin/sh", path);
        Assert.Equal(["--", "/usr/bin/qemu-system-x86_64", "-name", "a b", "--"], args.Skip(args.ToList().IndexOf("--", args.ToList().IndexOf("ro=/g/root.img"))));
        Assert.Contains("-all,+chown,+dac_override,+fowner,+fsetid", args);
        Assert.Contains("ro=/g/vmlinux", args);
        Assert.DoesNotContain("ro=/usr/bin/qemu-system-x86_64", args); // /usr is there, read-only, as a whole
    }

    [RootFact]
    public async Task Inside_the_jail_a_VMM_sees_only_its_files_has_only_its_capabilities_and_creates_private_files()
    {
        var sandbox = Directory.CreateDirectory(Path.Combine(_base, "sandbox")).FullName;
        var shared = Directory.CreateDirectory(Path.Combine(sandbox, "shared")).FullName;
        var kernel = Path.Combine(_base, "vmlinux");
        await File.WriteAllTextAsync(kernel, "kernel");
        var jail = new VmmJail
        {
            SandboxDirectory = sandbox,
            SharedDirectory = shared,
            ReadOnlyFiles = [kernel],
            Devices = ["/dev/null"],
            Capabilities = ["chown", "fowner"],
        };
        var probe = $"""
            ls -A /; echo ---; ls -A /dev; echo ---; ls -A /proc; grep '^Pid:' /proc/self/status | tr -d '\t'; [ -e /proc/self/fd/1 ] && echo fd; echo ---
            cat {kernel}; echo
            setpriv -d | grep -i bounding
            echo made > {sandbox}/made
            echo ---
            (echo x > {kernel}) 2>&1 || true
            (echo x > /escape) 2>&1 || true
            while [ ! -e {shared}/later-ro/seen ]; do sleep 0.05; done; ls {shared}/later
            (echo x > {shared}/later-ro/seen) 2>&1 || true
            """;

        var (path, args) = jail.Wrap("/bin/sh", ["-c", probe]);
        var start = new ProcessStartInfo(path) { RedirectStandardOutput = true, RedirectStandardError = true };
        args.ToList().ForEach(start.ArgumentList.Add);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();

        // A mount the host makes under the share after the VMM started reaches the VMM.
        while (!File.Exists(Path.Combine(sandbox, "made")) && !process.HasExited)
        {
            await Task.Delay(20);
        }

        var later = Directory.CreateDirectory(Path.Combine(shared, "later")).FullName;
        var source = Directory.CreateDirectory(Path.Combine(_base, "source")).FullName;
        await File.WriteAllTextAsync(Path.Combine(source, "seen"), "");
        BindMounts.Bind(source, later);
        var laterReadOnly = Directory.CreateDirectory(Path.Combine(shared, "later-ro")).FullName;
        BindMounts.BindStaged(source, Path.Combine(_base, "staging-ro"), isDirectory: true, FdMounts.ReadOnlyAttributes, KataSharp.Native.Linux.MS_PRIVATE, () => SafePath.OpenRoot(laterReadOnly), NullLogger.Instance);
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));

        var sections = (await stdout).Split("---\n");
        Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}: {await stderr}\n{await stdout}");
        // The host's top-level program directories (links or read-only binds), /dev, /usr and the way to the sandbox and kernel.
        var expected = new[] { "bin", "sbin", "lib", "lib32", "lib64", "libx32" }.Where(d => Path.Exists("/" + d)).Concat(["dev", "proc", "tmp", "usr"]);
        Assert.Equal(expected.Order(StringComparer.Ordinal), sections[0].Split('\n', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal));
        Assert.Equal(["null"], sections[1].Split('\n', StringSplitOptions.RemoveEmptyEntries));

        // /proc holds only the VMM's own process directory, and it is the VMM's (the jail execs, so the pid is the one started).
        Assert.Equal(["self", $"Pid:{process.Id}", "fd"], sections[2].Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("kernel", sections[3], StringComparison.Ordinal);
        Assert.Matches("(?i)bounding set: chown,fowner\n", sections[3]);
        Assert.Contains("Read-only file system", sections[4], StringComparison.Ordinal);
        Assert.DoesNotContain("escape", string.Join(' ', Directory.EnumerateFileSystemEntries("/")), StringComparison.Ordinal);
        // A read-only bind the host makes after the start is read-only in the VMM's copy too.
        Assert.Contains("\nseen\n", sections[4], StringComparison.Ordinal);
        Assert.Contains($"cannot create {shared}/later-ro/seen: Read-only file system", sections[4], StringComparison.Ordinal);
        Assert.Equal("", await File.ReadAllTextAsync(Path.Combine(source, "seen")));
        Assert.Equal("kernel", await File.ReadAllTextAsync(kernel));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(sandbox, "made")));
    }
}

using System.Diagnostics;
using System.Globalization;
using KataSharp.Runtime.Configuration;
using KataSharp.Runtime.Hypervisors;
using KataSharp.Runtime.Hypervisors.Qemu;

namespace KataSharp.Benchmarks;

/// <summary>
/// The bare floor every start-up figure is held against: QEMU with the same kernel, machine, accelerator, memory
/// and kernel command line as a sandbox, booting an initramfs whose /init powers off at once, from exec to exit.
/// </summary>
internal static class BareFloor
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(180);

    /// <summary>QEMU with the runtime's own command line for this configuration, minus the shared directory, and an initramfs that only powers off.</summary>
    public static async Task<List<double>> MeasureAsync(KataSharpConfig config, Accelerator accel, string kernel, string work, int runs)
    {
        var initrd = await BuildPowerOffInitrdAsync(work);
        var samples = new List<double>();
        for (var i = 0; i <= runs; i++)
        {
            var dir = Directory.CreateDirectory(Path.Combine(work, $"bare-{i}")).FullName;
            var spec = new VmSpec
            {
                Name = "katasharp-bench-bare",
                KernelPath = kernel,
                Root = GuestRoot.Initramfs(initrd),
                ExtraKernelParams = config.Hypervisor.KernelParams,
                Accelerator = accel,
                Vcpus = config.Hypervisor.Vcpus,
                MemoryMiB = config.Hypervisor.MemoryMiB,
                ConsoleLogPath = Path.Combine(dir, "console.log"),
                Files = new VmmFiles(dir, Path.Combine(dir, "vmm.sock"), Path.Combine(dir, "vmm.pid"), Path.Combine(dir, "vmm.log")),
                AgentChannel = new AgentChannel(AgentChannelKind.Serial, Path.Combine(dir, "agent.sock")),
            };
            var start = new ProcessStartInfo(config.Hypervisor.Path) { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var arg in QemuCommandLine.Build(spec, new QemuOptions { Machine = config.Hypervisor.Machine, TbSizeMiB = config.Hypervisor.TbSizeMiB }))
            {
                start.ArgumentList.Add(arg);
            }

            if (i == 0)
            {
                Console.WriteLine($"    bare QEMU: {config.Hypervisor.Path} {string.Join(' ', start.ArgumentList)}");
            }

            var clock = Stopwatch.StartNew();
            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            try
            {
                await process.WaitForExitAsync().WaitAsync(Guard);
            }
            catch (TimeoutException)
            {
                process.Kill();
                throw new InvalidOperationException($"the bare VM did not power off within {Guard.TotalSeconds} s; console: {File.ReadAllText(spec.ConsoleLogPath)}");
            }

            var elapsed = clock.Elapsed.TotalMilliseconds;
            var console = File.Exists(spec.ConsoleLogPath) ? await File.ReadAllTextAsync(spec.ConsoleLogPath) : "";
            if (process.ExitCode != 0 || console.Contains("Kernel panic", StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"the bare VM did not power off cleanly: exit {process.ExitCode}, {await stdout}{await stderr}\nconsole: {console}");
            }

            if (i > 0)
            {
                samples.Add(elapsed);
            }

            Console.WriteLine($"    bare boot {(i == 0 ? "warm-up" : i.ToString(CultureInfo.InvariantCulture))}: QEMU exited after {elapsed:F0} ms");
        }

        return samples;
    }

    /// <summary>A newc initramfs holding only a static /init that powers the VM off: gcc -static if there is a gcc, else busybox's poweroff -f.</summary>
    private static async Task<string> BuildPowerOffInitrdAsync(string work)
    {
        var root = Directory.CreateDirectory(Path.Combine(work, "initramfs")).FullName;
        var init = Path.Combine(root, "init");
        var source = Path.Combine(work, "poweroff.c");
        await File.WriteAllTextAsync(source, """
            #include <sys/reboot.h>
            #include <unistd.h>
            int main(void) { sync(); reboot(RB_POWER_OFF); return 1; }
            """);
        var how = "static C /init calling reboot(RB_POWER_OFF)";
        if (await ShellAsync($"gcc -static -Os -o '{init}' '{source}' && strip '{init}'") != 0)
        {
            var busybox = File.Exists("/bin/busybox") ? "/bin/busybox" : throw new InvalidOperationException("neither gcc nor /bin/busybox to build the power-off initramfs");
            Directory.CreateDirectory(Path.Combine(root, "bin"));
            File.Copy(busybox, Path.Combine(root, "bin", "busybox"));
            await File.WriteAllTextAsync(init, "#!/bin/busybox sh\n/bin/busybox poweroff -f\n");
            File.SetUnixFileMode(init, (UnixFileMode)0b111_101_101);
            how = "busybox sh /init running poweroff -f";
        }

        var image = Path.Combine(work, "poweroff-initrd.img");
        if (await ShellAsync($"cd '{root}' && find . | cpio -o -H newc -R 0:0 --quiet | gzip -9 > '{image}'") != 0)
        {
            throw new InvalidOperationException("cpio/gzip of the power-off initramfs failed");
        }

        Console.WriteLine($"    power-off initramfs: {how}, {new FileInfo(image).Length / 1024.0:F0} KiB");
        return image;
    }

    private static async Task<int> ShellAsync(string command)
    {
        using var process = Process.Start(new ProcessStartInfo("/bin/sh", ["-c", command]) { RedirectStandardError = true })!;
        var stderr = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            Console.Error.WriteLine($"    ({command}: {stderr.Trim()})");
        }

        return process.ExitCode;
    }
}

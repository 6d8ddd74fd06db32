using System.Text.Json;
using KataSharp.Cli.Check;
using KataSharp.Runtime.Containerd;
using KataSharp.Runtime.Configuration;
using KataSharp.Runtime.HostTools;
using KataSharp.Runtime.Hypervisors;
using KataSharp.Runtime.Sandbox;

namespace KataSharp.Cli.Commands;

/// <summary><c>katasharp check</c>: each host requirement as OK, WARN or FAIL, with what to do about it.</summary>
internal static class CheckCommand
{
    private static class Level
    {
        public const string Ok = CheckResult.Ok;
        public const string Warn = CheckResult.Warn;
        public const string Fail = CheckResult.Fail;
    }

    public static readonly CommandSyntax Syntax = new()
    {
        Name = "check",
        Summary = "Check that this host can run sandboxes",
        Description = "Check that this host can run sandboxes; exits 1 if something required is missing.",
        Options =
        [
            CliOption.Flag("json", "the results as a JSON array of {level, what, detail}"),
            CliOption.Value("containerd-config", "FILE", "containerd's config to look for the runtime in (default: /etc/containerd/config.toml)"),
        ],
    };

    public static async Task<int> ExecuteAsync(GlobalOptions global, IReadOnlyList<string> args, CancellationToken cancellationToken)
    {
        var reader = Syntax.Parse(args);
        if (Syntax.PrintedHelp(reader))
        {
            return 0;
        }

        var json = reader.Has("json");
        var results = new List<CheckResult>();
        void Add(string level, string what, string detail) => results.Add(new(level, what, detail));

        LoadedConfig loaded;
        try
        {
            loaded = new ConfigLoader().Load(reader.Get("config") ?? global.ConfigPath);
            Add(Level.Ok, "configuration", loaded.SourcePath ?? "built-in defaults (no /etc/katasharp/katasharp.yaml)");
        }
        catch (ConfigException e)
        {
            Add(Level.Fail, "configuration", e.Message);
            Print(results, json);
            return 1;
        }

        var config = loaded.Config;
        var host = HostSystem.Instance;

        Add(Environment.IsPrivilegedProcess ? Level.Ok : Level.Fail, "privileges",
            Environment.IsPrivilegedProcess ? "running as root" : "katasharp needs root for bind mounts and VM devices; run it with sudo");

        var qemu = config.Hypervisor.Path;
        if (File.Exists(qemu))
        {
            var version = await QemuVersionAsync(qemu, cancellationToken).ConfigureAwait(false);
            Add(version is null ? Level.Fail : Level.Ok, "qemu", version is null ? $"{qemu} does not run (try: {qemu} --version)" : $"{qemu}: {version}");
        }
        else
        {
            Add(Level.Fail, "qemu", $"{qemu} not found; install it (apt-get install qemu-system-x86) or set hypervisor.path");
        }

        try
        {
            var accel = AcceleratorSelector.Choose(config.Hypervisor.Accel, host);
            Add(accel.Warning is null ? Level.Ok : Level.Warn, "acceleration",
                accel.Accelerator == Accelerator.Kvm ? "KVM" : accel.Warning ?? "TCG emulation (hypervisor.accel: tcg)");
        }
        catch (HypervisorException e)
        {
            Add(Level.Fail, "acceleration", e.Message);
        }

        Add(host.FileExists(ChannelSelector.VhostVsockDevice) ? Level.Ok : Level.Warn, "vhost-vsock",
            host.FileExists(ChannelSelector.VhostVsockDevice)
                ? $"{ChannelSelector.VhostVsockDevice} present; the agent channel is vsock"
                : $"{ChannelSelector.VhostVsockDevice} missing (modprobe vhost_vsock); the agent channel falls back to virtio-serial");

        Add(host.FileExists("/dev/net/tun") ? Level.Ok : Level.Warn, "tun",
            host.FileExists("/dev/net/tun") ? "/dev/net/tun present" : "/dev/net/tun missing (modprobe tun); pods under the shim need it for networking");

        var kernel = GuestAssets.ResolveKernel(config);
        Add(File.Exists(kernel) ? Level.Ok : Level.Fail, "guest kernel", File.Exists(kernel) ? kernel : $"{kernel} not found; build it (./build.sh image) or set hypervisor.kernel");
        try
        {
            var root = GuestAssets.ResolveRoot(config);
            var (what, key) = root.Kind == GuestRootKind.Image ? ("guest root image", "hypervisor.image") : ("guest initrd", "hypervisor.initrd");
            Add(File.Exists(root.Path) ? Level.Ok : Level.Fail, what, File.Exists(root.Path) ? root.Path : $"{root.Path} not found; build it (./build.sh image) or set {key}");
        }
        catch (ConfigException e)
        {
            Add(Level.Fail, "guest root", e.Message);
        }
        if (File.Exists(kernel))
        {
            results.Add(GuestKernelCheck.Options(kernel, GuestKernelCheck.ReadIfExists));
        }

        var image = GuestAssets.DefaultImage();
        Add(File.Exists(image) ? Level.Ok : Level.Warn, "default image", File.Exists(image) ? image : $"{image} not found; katasharp run then needs --image or --rootfs (./build.sh builds it)");

        var cgroup2 = File.Exists("/sys/fs/cgroup/cgroup.controllers");
        var cgroupUnified = Directory.Exists("/sys/fs/cgroup/unified");
        Add(Directory.Exists("/sys/fs/cgroup") ? Level.Ok : Level.Warn, "cgroups",
            cgroup2 ? "cgroup v2" : cgroupUnified ? "cgroup v1 with a v2 hierarchy at /sys/fs/cgroup/unified" : Directory.Exists("/sys/fs/cgroup") ? "cgroup v1" : "no /sys/fs/cgroup (containers are limited inside the VM regardless)");

        try
        {
            var sharedFs = ChannelSelector.ChooseSharedFs(config.SharedFs, host);
            Add(Level.Ok, "shared filesystem", sharedFs == SharedFsType.VirtioFs
                ? $"virtio-fs ({config.SharedFs.VirtiofsdPath})"
                : $"9p (QEMU built-in){(config.SharedFs.Kind == SharedFsKind.Auto ? $"; virtiofsd not found at {config.SharedFs.VirtiofsdPath}" : "")}");
        }
        catch (HypervisorException e)
        {
            Add(Level.Fail, "shared filesystem", e.Message);
        }

        var stateDir = config.Runtime.StateDir;
        try
        {
            PrivateDirectory.Ensure(stateDir);
            var probe = Path.Combine(stateDir, $".check-{Environment.ProcessId}");
            File.WriteAllText(probe, "");
            File.Delete(probe);
            Add(Level.Ok, "state directory", $"{stateDir} is writable");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Add(Level.Fail, "state directory", $"{stateDir}: {e.Message}; set runtime.stateDir");
        }

        results.AddRange(ToolChecks.Tools(ToolChecks.Which, File.Exists));
        results.Add(ToolChecks.Containerd(await ContainerdVersion.ProbeAsync("containerd", cancellationToken).ConfigureAwait(false)));
        results.Add(ToolChecks.Registration(reader.Get("containerd-config") ?? Install.NodeInstaller.DefaultContainerdConfig));

        Print(results, json);
        return results.Any(r => r.Level == Level.Fail) ? 1 : 0;
    }

    private static void Print(List<CheckResult> results, bool json)
    {
        if (json)
        {
            System.Console.WriteLine(JsonSerializer.Serialize(results, CheckJsonContext.Default.ListCheckResult));
            return;
        }

        foreach (var (level, what, detail) in results)
        {
            var label = level switch { Level.Ok => "OK  ", Level.Warn => "WARN", _ => "FAIL" };
            System.Console.WriteLine($"{label}  {what,-18} {detail}");
        }
    }

    /// <summary>The first line of <c>qemu --version</c>; null when it does not run, fails or takes longer than 5 s.</summary>
    private static async Task<string?> QemuVersionAsync(string qemu, CancellationToken cancellationToken)
    {
        try
        {
            var result = await HostProcess.RunAsync(qemu, ["--version"], TimeSpan.FromSeconds(5), cancellationToken, maxCapturedBytes: 64 * 1024).ConfigureAwait(false);
            return result.ExitCode == 0 ? result.Stdout.Text().Split('\n', 2)[0].Trim() : null;
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or TimeoutException)
        {
            return null;
        }
    }
}

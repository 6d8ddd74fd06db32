using KataSharp.Runtime.Configuration;
using KataSharp.Runtime.Hypervisors;
using Xunit;

namespace KataSharp.Tests.Unit.Runtime;

public sealed class ConfigLoaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ks-config-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, string yaml)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, yaml);
        return path;
    }

    [Fact]
    public void Empty_document_gives_the_defaults()
    {
        var config = ConfigLoader.Parse("", "test.yaml");
        Assert.Equal(new KataSharpConfig().Hypervisor, config.Hypervisor);
        Assert.Equal(AccelMode.Auto, config.Hypervisor.Accel);
        Assert.Equal(512, config.Hypervisor.MemoryMiB);
        Assert.Equal("/run/katasharp", config.Runtime.StateDir);
    }

    [Fact]
    public void Parses_every_section()
    {
        var config = ConfigLoader.Parse("""
            hypervisor:
              path: /opt/qemu
              kernel: /k/vmlinux
              accel: tcg
              vcpus: 2
              memoryMiB: 1024
              tbSizeMiB: 32
              kernelParams: "loglevel=7 debug"
              bootTimeoutSeconds: 20
            agent: {transport: serial, dialTimeoutSeconds: 3, requestTimeoutSeconds: 9}
            sharedFs: {kind: 9p, virtiofsdPath: /usr/bin/virtiofsd}
            runtime: {stateDir: /tmp/ks}
            log: {level: debug}
            enableAnnotations: [hypervisor.vcpus, hypervisor.memoryMiB]
            """, "test.yaml");
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Debug, config.Log.Level);
        Assert.Equal("/opt/qemu", config.Hypervisor.Path);
        Assert.Equal("/k/vmlinux", config.Hypervisor.Kernel);
        Assert.Equal(AccelMode.Tcg, config.Hypervisor.Accel);
        Assert.Equal(2, config.Hypervisor.Vcpus);
        Assert.Equal(1024, config.Hypervisor.MemoryMiB);
        Assert.Equal(32, config.Hypervisor.TbSizeMiB);
        Assert.Equal("loglevel=7 debug", config.Hypervisor.KernelParams);
        Assert.Equal(20, config.Hypervisor.BootTimeoutSeconds);
        Assert.Equal(AgentTransportKind.Serial, config.Agent.Transport);
        Assert.Equal(3, config.Agent.DialTimeoutSeconds);
        Assert.Equal(9, config.Agent.RequestTimeoutSeconds);
        Assert.Equal(SharedFsKind.NineP, config.SharedFs.Kind);
        Assert.Equal("/tmp/ks", config.Runtime.StateDir);
        Assert.Equal(["hypervisor.vcpus", "hypervisor.memoryMiB"], config.EnableAnnotations);
    }

    [Fact]
    public void The_shipped_katasharp_yaml_is_valid_and_equals_the_defaults()
    {
        var shipped = Path.Combine(RepoRoot(), "configs", "katasharp.yaml");
        var config = ConfigLoader.Parse(File.ReadAllText(shipped), shipped);
        Assert.Equal(ConfigYamlWriter.Write(new KataSharpConfig()), ConfigYamlWriter.Write(config));
    }

    [Fact]
    public void Unknown_top_level_key_is_named_with_its_line()
    {
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Parse("hypervisor:\n  vcpus: 1\nhypervisr:\n  vcpus: 2\n", "my.yaml"));
        Assert.Contains("my.yaml:3:", e.Message, StringComparison.Ordinal);
        Assert.Contains("'hypervisr'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_nested_key_is_named_with_its_line()
    {
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Parse("hypervisor:\n  vcpus: 1\n  memoryMb: 2\n", "my.yaml"));
        Assert.Contains("my.yaml:3:", e.Message, StringComparison.Ordinal);
        Assert.Contains("hypervisor.memoryMb", e.Message, StringComparison.Ordinal);
        Assert.Contains("memoryMiB", e.Message, StringComparison.Ordinal); // lists what is known
    }

    [Theory]
    [InlineData("hypervisor:\n  vcpus: -1\n", "hypervisor.vcpus")]
    [InlineData("hypervisor:\n  vcpus: two\n", "hypervisor.vcpus")]
    [InlineData("hypervisor:\n  vcpus: [1]\n", "hypervisor.vcpus")]
    [InlineData("hypervisor:\n  memoryMiB: 1\n", "hypervisor.memoryMiB")]
    [InlineData("hypervisor:\n  accel: hvf\n", "hypervisor.accel")]
    [InlineData("hypervisor:\n  machine: pc\n", "hypervisor.machine")]
    [InlineData("agent:\n  transport: tcp\n", "agent.transport")]
    [InlineData("sharedFs:\n  kind: nfs\n", "sharedFs.kind")]
    [InlineData("hypervisor:\n  path:\n", "hypervisor.path")]
    [InlineData("hypervisor: 3\n", "hypervisor")]
    [InlineData("enableAnnotations: hypervisor.vcpus\n", "enableAnnotations")]
    public void Bad_values_are_refused_naming_the_key(string yaml, string key)
    {
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Parse(yaml, "bad.yaml"));
        Assert.Contains(key, e.Message, StringComparison.Ordinal);
        Assert.StartsWith("bad.yaml:", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Enum_error_lists_the_choices()
    {
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Parse("hypervisor:\n  accel: hvf\n", "bad.yaml"));
        Assert.Contains("auto, kvm, tcg", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Invalid_yaml_reports_the_position()
    {
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Parse("hypervisor:\n  vcpus: [1\n", "broken.yaml"));
        Assert.Contains("broken.yaml:", e.Message, StringComparison.Ordinal);
        Assert.Contains("invalid YAML", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_fault_seam_is_read_from_the_file_and_can_never_be_enabled_for_annotations()
    {
        Assert.Equal(FaultPoint.Taps, ConfigLoader.Parse("runtime:\n  failAfter: taps\n", "a.yaml").Runtime.FailAfter);
        Assert.Equal(FaultPoint.None, ConfigLoader.Parse("", "a.yaml").Runtime.FailAfter);
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Parse("enableAnnotations: [runtime.failAfter]\n", "a.yaml"));
        Assert.Contains("runtime.failAfter", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Executable_paths_cannot_be_enabled_for_annotations()
    {
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Parse("enableAnnotations: [hypervisor.path]\n", "a.yaml"));
        Assert.Contains("hypervisor.path", e.Message, StringComparison.Ordinal);
        Assert.Throws<ConfigException>(() => ConfigLoader.Parse("enableAnnotations: [hypervisor.nothing]\n", "a.yaml"));
    }

    [Fact]
    public void Lookup_prefers_the_flag_then_the_environment_then_the_system_file()
    {
        var flag = Write("flag.yaml", "hypervisor: {vcpus: 1}\n");
        var env = Write("env.yaml", "hypervisor: {vcpus: 2}\n");
        var system = Write("system.yaml", "hypervisor: {vcpus: 3}\n");
        var environment = new Dictionary<string, string> { [ConfigLoader.EnvironmentVariable] = env };

        var loader = new ConfigLoader(name => environment.GetValueOrDefault(name), system);
        Assert.Equal(1, loader.Load(flag).Config.Hypervisor.Vcpus);
        Assert.Equal(flag, loader.Load(flag).SourcePath);
        Assert.Equal(2, loader.Load().Config.Hypervisor.Vcpus);
        Assert.Equal(env, loader.Load().SourcePath);

        environment.Clear();
        Assert.Equal(3, loader.Load().Config.Hypervisor.Vcpus);

        var noSystem = new ConfigLoader(_ => null, Path.Combine(_dir, "absent.yaml"));
        var defaults = noSystem.Load();
        Assert.Null(defaults.SourcePath);
        Assert.Equal(1, defaults.Config.Hypervisor.Vcpus);
    }

    [Fact]
    public void A_named_file_that_is_missing_is_an_error()
    {
        var loader = new ConfigLoader(_ => Path.Combine(_dir, "missing-env.yaml"), "/nonexistent");
        var e = Assert.Throws<ConfigException>(() => loader.Load());
        Assert.Contains("$KATASHARP_CONFIG", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ConfigException>(() => loader.Load(Path.Combine(_dir, "missing-flag.yaml")));
        Assert.Contains("--config", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Annotations_override_only_enabled_keys()
    {
        var config = ConfigLoader.Parse("enableAnnotations: [hypervisor.vcpus]\n", "a.yaml");
        var result = ConfigAnnotations.Apply(config, new Dictionary<string, string>
        {
            ["io.katasharp.config.hypervisor.vcpus"] = "4",
            ["io.kubernetes.cri.sandbox-id"] = "abc", // not ours: ignored
        });
        Assert.Equal(4, result.Hypervisor.Vcpus);
        Assert.Equal(config.EnableAnnotations, result.EnableAnnotations);

        var refused = Assert.Throws<ConfigException>(() => ConfigAnnotations.Apply(config,
            new Dictionary<string, string> { ["io.katasharp.config.hypervisor.memoryMiB"] = "4096" }));
        Assert.Contains("not allowed", refused.Message, StringComparison.Ordinal);

        Assert.Throws<ConfigException>(() => ConfigAnnotations.Apply(config,
            new Dictionary<string, string> { ["io.katasharp.config.hypervisor.path"] = "/bin/sh" }));
        Assert.Throws<ConfigException>(() => ConfigAnnotations.Apply(config,
            new Dictionary<string, string> { ["io.katasharp.config.hypervisor.vcpus"] = "-3" }));
        Assert.Throws<ConfigException>(() => ConfigAnnotations.Apply(config,
            new Dictionary<string, string> { ["io.katasharp.config.no.such"] = "1" }));
    }

    [Fact]
    public void Written_yaml_reads_back_the_same()
    {
        var config = ConfigLoader.Parse("hypervisor: {kernelParams: \"a=1 b: 'x'\", accel: kvm}\nenableAnnotations: [hypervisor.vcpus]\n", "a.yaml");
        var again = ConfigLoader.Parse(ConfigYamlWriter.Write(config), "again.yaml");
        Assert.Equal(config.Hypervisor, again.Hypervisor);
        Assert.Equal(config.EnableAnnotations, again.EnableAnnotations);
    }

    [Fact]
    public void Guest_assets_default_next_to_the_executable()
    {
        var bin = Path.Combine(_dir, "build", "bin");
        Directory.CreateDirectory(Path.Combine(_dir, "build", "guest", "katasharp"));
        File.WriteAllText(Path.Combine(_dir, "build", "guest", "katasharp", "vmlinux"), "");
        Assert.Equal(Path.Combine(_dir, "build", "guest", "katasharp", "vmlinux"), GuestAssets.ResolveKernel(new KataSharpConfig(), bin));
        Assert.Equal("/explicit", GuestAssets.ResolveKernel(new KataSharpConfig { Hypervisor = new HypervisorConfig { Kernel = "/explicit" } }, bin));
        Assert.Equal(Path.Combine(_dir, "build", "images", "busybox.oci.tar"), GuestAssets.DefaultImage(bin));
    }

    [Fact]
    public void Guest_kernel_picks_the_image_directory_of_that_kernel()
    {
        var bin = Path.Combine(_dir, "build", "bin");
        var config = ConfigLoader.Parse("guest:\n  kernel: katasharp\n", "k.yaml");
        Assert.Equal(GuestKernelKind.KataSharp, config.Guest.Kernel);
        Assert.Equal(Path.Combine(_dir, "build", "guest", "katasharp", "vmlinux"), GuestAssets.ResolveKernel(config, bin));
        Assert.Equal(Path.Combine(_dir, "build", "guest", "katasharp", "initrd.img"), GuestAssets.ResolveInitrd(config, bin));
        Assert.Equal(GuestKernelKind.Debian, ConfigLoader.Parse("guest: {kernel: debian}\n", "d.yaml").Guest.Kernel);
        var error = Assert.Throws<ConfigException>(() => ConfigLoader.Parse("guest: {kernel: ubuntu}\n", "u.yaml"));
        Assert.Contains("guest.kernel", error.Message, StringComparison.Ordinal);
        Assert.Equal(GuestKernelKind.KataSharp, ConfigLoader.Parse(ConfigYamlWriter.Write(config), "again.yaml").Guest.Kernel);
    }

    [Fact]
    public void Guest_root_is_the_image_with_our_kernel_and_the_initramfs_with_debians()
    {
        var bin = Path.Combine(_dir, "build", "bin");
        string Guest(string kind, string file) => Path.Combine(_dir, "build", "guest", kind, file);
        GuestRoot Root(string yaml) => GuestAssets.ResolveRoot(ConfigLoader.Parse(yaml, "r.yaml"), bin);

        Assert.Equal(GuestRoot.Image(Guest("katasharp", "root.img")), Root(""));
        Assert.Equal(GuestRoot.Initramfs(Guest("katasharp", "initrd.img")), Root("guest: {root: initramfs}\n"));
        Assert.Equal(GuestRoot.Initramfs(Guest("debian", "initrd.img")), Root("guest: {kernel: debian}\n"));
        Assert.Equal(GuestRoot.Image("/x/root.img"), Root("hypervisor: {image: /x/root.img}\nguest: {root: image}\n"));
        Assert.Equal(GuestRoot.Initramfs("/x/initrd.img"), Root("hypervisor: {image: /x/root.img, initrd: /x/initrd.img}\nguest: {root: initramfs}\n"));

        var debianImage = Assert.Throws<ConfigException>(() => Root("guest: {kernel: debian, root: image}\n"));
        Assert.Contains("guest.kernel: katasharp", debianImage.Message, StringComparison.Ordinal);
        var bad = Assert.Throws<ConfigException>(() => ConfigLoader.Parse("guest: {root: disk}\n", "b.yaml"));
        Assert.Contains("guest.root", bad.Message, StringComparison.Ordinal);
        var config = ConfigLoader.Parse("hypervisor: {image: /x/root.img}\nguest: {root: initramfs}\n", "w.yaml");
        Assert.Equal(config.Guest, ConfigLoader.Parse(ConfigYamlWriter.Write(config), "again.yaml").Guest);
        Assert.Equal("/x/root.img", ConfigLoader.Parse(ConfigYamlWriter.Write(config), "again.yaml").Hypervisor.Image);
    }

    internal static string RepoRoot()
    {
        var dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "KataSharp.sln")))
        {
            dir = Path.GetDirectoryName(dir);
        }

        return dir ?? throw new InvalidOperationException("repository root not found");
    }
}

using System.Net;
using KataSharp.Cli.Install;
using KataSharp.Runtime.Containerd;
using KataSharp.Tests.Unit.Runtime;

namespace KataSharp.Tests.Unit.Install;

public sealed class NodeInstallerTests : IDisposable
{
    private const string Version3Config = "version = 3\nroot = \"/var/lib/containerd\"\n\n[plugins.'io.containerd.cri.v1.runtime']\n  restrict_oom_score_adj = true\n";
    private const string Version2Config = "version = 2\n\n[plugins.\"io.containerd.grpc.v1.cri\"]\n  sandbox_image = \"pause\"\n  [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]\n    runtime_type = \"io.containerd.runc.v2\"\n";

    private readonly string _dir = Directory.CreateTempSubdirectory("ks-install").FullName;

    public NodeInstallerTests()
    {
        foreach (var file in InstallLayout.Binaries.Select(b => Path.Combine("bin", b))
            .Concat(InstallLayout.GuestFiles.Select(g => Path.Combine("guest", g))).Append(Path.Combine("images", "busybox.oci.tar")))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(Payload, file))!);
            File.WriteAllText(Path.Combine(Payload, file), file);
        }

        Directory.CreateDirectory(Path.Combine(Payload, "configs"));
        foreach (var config in new[] { "katasharp.yaml", "containerd-katasharp.toml", "containerd-katasharp-v3.toml" })
        {
            File.Copy(Path.Combine(ConfigLoaderTests.RepoRoot(), "configs", config), Path.Combine(Payload, "configs", config));
        }

        Directory.CreateDirectory(Path.GetDirectoryName(ContainerdConfig)!);
    }

    private string Payload => Path.Combine(_dir, "payload");

    private string Root => Path.Combine(_dir, "opt", "katasharp");

    private string ContainerdConfig => Path.Combine(_dir, "etc", "containerd", "config.toml");

    private string Restarts => Path.Combine(_dir, "restarts");

    private int RestartCount => File.Exists(Restarts) ? File.ReadAllLines(Restarts).Length : 0;

    private NodeInstaller Installer(string? node = null, KubernetesNodes? cluster = null, string? links = null) => new(
        new InstallOptions(Payload, new InstallLayout(Root), ContainerdConfig, "/nonexistent/containerd", links,
            ContainerdRestart.Plan("none", $"echo restarted >> {Restarts}", "containerd", _ => false, () => null), node),
        cluster, TextWriter.Null);

    [Fact]
    public async Task OnAVersion3Config_ADropInIsImported_ReinstallChangesNothing_AndUninstallRestoresTheFileExactly()
    {
        File.WriteAllText(ContainerdConfig, Version3Config);
        await Installer().InstallAsync(CancellationToken.None);

        var dropIn = Path.Combine(_dir, "etc", "containerd", "conf.d", "katasharp.toml");
        Assert.Contains($"runtime_path = \"{Root}/bin/containerd-shim-katasharp-v2\"", File.ReadAllText(dropIn));
        Assert.Contains($"ConfigPath = \"{Root}/etc/katasharp.yaml\"", File.ReadAllText(dropIn));
        Assert.Equal([dropIn], ContainerdConfigEdits.Imports(File.ReadAllText(ContainerdConfig)));
        Assert.Equal(Version3Config, File.ReadAllText(ContainerdConfig + ".katasharp-backup"));
        Assert.Equal("bin/containerd-shim-katasharp-v2", File.ReadAllText(Path.Combine(Root, "bin", "containerd-shim-katasharp-v2")));
        Assert.True(File.Exists(Path.Combine(Root, "guest", "vmlinux")));
        Assert.True(File.Exists(Path.Combine(Root, "images", "busybox.oci.tar")));
        Assert.True(File.Exists(Path.Combine(Root, "etc", "katasharp.yaml")));
        Assert.Equal(1, RestartCount);

        var installed = File.ReadAllText(ContainerdConfig);
        await Installer().InstallAsync(CancellationToken.None);
        Assert.Equal(installed, File.ReadAllText(ContainerdConfig));
        Assert.Equal(1, RestartCount);

        await Installer().UninstallAsync(CancellationToken.None);
        Assert.Equal(Version3Config, File.ReadAllText(ContainerdConfig));
        Assert.False(File.Exists(dropIn));
        Assert.False(File.Exists(ContainerdConfig + ".katasharp-backup"));
        Assert.False(Directory.Exists(Root));
        Assert.Equal(2, RestartCount);

        await Installer().UninstallAsync(CancellationToken.None);
        Assert.Equal(Version3Config, File.ReadAllText(ContainerdConfig));
        Assert.Equal(2, RestartCount);
    }

    [Fact]
    public async Task OnAVersion2Config_TheEntryIsAMarkedBlockInTheConfig_AndUninstallRemovesIt()
    {
        File.WriteAllText(ContainerdConfig, Version2Config);
        await Installer().InstallAsync(CancellationToken.None);
        var config = File.ReadAllText(ContainerdConfig);
        Assert.StartsWith(Version2Config, config);
        Assert.Contains("[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.katasharp]", config);
        Assert.Contains($"runtime_path = \"{Root}/bin/containerd-shim-katasharp-v2\"", config);
        Assert.False(Directory.Exists(Path.Combine(_dir, "etc", "containerd", "conf.d")));

        await Installer().InstallAsync(CancellationToken.None);
        Assert.Equal(config, File.ReadAllText(ContainerdConfig));

        await Installer().UninstallAsync(CancellationToken.None);
        Assert.Equal(Version2Config, File.ReadAllText(ContainerdConfig));
        Assert.Equal(2, RestartCount);
    }

    [Fact]
    public async Task WithoutAConfig_OneIsCreatedForTheContainerdRelease_AndUninstallDeletesIt()
    {
        await Installer().InstallAsync(CancellationToken.None);
        // No config and no containerd binary to ask: containerd 1.x's version 2.
        Assert.Equal(2, ContainerdConfigFragment.DeclaredVersion(File.ReadAllText(ContainerdConfig)));
        await Installer().UninstallAsync(CancellationToken.None);
        Assert.False(File.Exists(ContainerdConfig));
    }

    [Fact]
    public async Task AHandWrittenKatasharpRuntime_InAVersion2Config_IsRefusedBeforeAnythingChanges()
    {
        var config = Version2Config + "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.katasharp]\n  runtime_type = \"io.containerd.katasharp.v2\"\n";
        File.WriteAllText(ContainerdConfig, config);
        var error = await Assert.ThrowsAsync<InstallException>(() => Installer().InstallAsync(CancellationToken.None));
        Assert.Contains("config.toml:7", error.Message);
        Assert.Equal(config, File.ReadAllText(ContainerdConfig));
        Assert.Equal(0, RestartCount);
    }

    [Fact]
    public async Task EditsMadeAfterInstall_SurviveUninstall_AndTheBackupIsKept()
    {
        File.WriteAllText(ContainerdConfig, Version3Config);
        await Installer().InstallAsync(CancellationToken.None);
        File.AppendAllText(ContainerdConfig, "[plugins.'io.containerd.grpc.v1.cri'.x]\n  y = 1\n");

        await Installer().UninstallAsync(CancellationToken.None);
        var config = File.ReadAllText(ContainerdConfig);
        Assert.StartsWith(Version3Config, config);
        Assert.Contains("y = 1", config);
        Assert.Empty(ContainerdConfigEdits.Imports(config));
        Assert.True(File.Exists(ContainerdConfig + ".katasharp-backup"));
    }

    [Fact]
    public async Task AKatasharpYamlAlreadyThere_IsKeptByInstallAndUninstall()
    {
        File.WriteAllText(ContainerdConfig, Version3Config);
        Directory.CreateDirectory(Path.Combine(Root, "etc"));
        File.WriteAllText(Path.Combine(Root, "etc", "katasharp.yaml"), "runtime:\n  stateDir: /run/mine\n");
        await Installer().InstallAsync(CancellationToken.None);
        await Installer().UninstallAsync(CancellationToken.None);
        Assert.Equal("runtime:\n  stateDir: /run/mine\n", File.ReadAllText(Path.Combine(Root, "etc", "katasharp.yaml")));
        Assert.False(Directory.Exists(Path.Combine(Root, "bin")));
    }

    [Fact]
    public async Task LinksIntoTheRoot_AreMadeAndRemoved_ButAStrangersBinaryIsNot()
    {
        File.WriteAllText(ContainerdConfig, Version3Config);
        var links = Path.Combine(_dir, "usr", "local", "bin");
        await Installer(links: links).InstallAsync(CancellationToken.None);
        Assert.Equal(Path.Combine(Root, "bin", "katasharp"), new FileInfo(Path.Combine(links, "katasharp")).LinkTarget);
        await Installer().UninstallAsync(CancellationToken.None);
        Assert.False(File.Exists(Path.Combine(links, "katasharp")));

        File.WriteAllText(Path.Combine(links, "katasharp"), "someone else's");
        await Assert.ThrowsAsync<InstallException>(() => Installer(links: links).InstallAsync(CancellationToken.None));
        Assert.Equal("someone else's", File.ReadAllText(Path.Combine(links, "katasharp")));
    }

    [Fact]
    public async Task InACluster_TheNodeIsLabelledOnInstall_AndUnlabelledFirstOnUninstall()
    {
        File.WriteAllText(ContainerdConfig, Version3Config);
        var handler = new PatchRecorder();
        using var cluster = new KubernetesNodes(new HttpClient(handler) { BaseAddress = new Uri("https://api/") });
        await Installer("worker-1", cluster).InstallAsync(CancellationToken.None);
        Assert.Equal(["PATCH api/v1/nodes/worker-1 {\"metadata\":{\"labels\":{\"katasharp.io/runtime\":\"true\"}}}"], handler.Requests);

        // Uninstall finds the node in its state, even when not told again.
        handler.OnRequest = () => Assert.True(Directory.Exists(Path.Combine(Root, "bin")), "unlabelled after the files went");
        await Installer(cluster: cluster).UninstallAsync(CancellationToken.None);
        Assert.Equal("PATCH api/v1/nodes/worker-1 {\"metadata\":{\"labels\":{\"katasharp.io/runtime\":null}}}", handler.Requests[^1]);
    }

    private sealed class PatchRecorder : HttpMessageHandler
    {
        public List<string> Requests { get; } = [];

        public Action? OnRequest { get; set; }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            OnRequest?.Invoke();
            Requests.Add($"{request.Method} {request.RequestUri!.PathAndQuery.TrimStart('/')} {await request.Content!.ReadAsStringAsync(cancellationToken)}");
            return new HttpResponseMessage(HttpStatusCode.OK);
        }
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}

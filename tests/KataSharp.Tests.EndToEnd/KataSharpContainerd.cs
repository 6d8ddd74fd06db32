namespace KataSharp.Tests.EndToEnd;

/// <summary>
/// A private containerd with the CRI plugin, the katasharp runtime (our shim from build/bin on its
/// PATH) and runc side by side, a CNI bridge network of its own, and the local busybox and pause
/// images imported. KataSharp's state lives in a private directory that the tests inspect for leaks.
/// </summary>
public sealed class KataSharpContainerd : IAsyncLifetime
{
    private const string Subnet = "10.214.0.0/24";

    public ContainerdDaemon Daemon { get; private set; } = null!;

    public string StateDir { get; private set; } = "";

    public string ConfigPath { get; private set; } = "";

    public string CriSocket => Daemon.Address;

    public string BridgeName { get; } = "ksbr" + Environment.ProcessId % 10000;

    public async Task InitializeAsync()
    {
        var work = Directory.CreateTempSubdirectory("ks-e2e").FullName;
        StateDir = $"/run/ks-e2e-{Environment.ProcessId}";
        ConfigPath = Path.Combine(work, "katasharp.yaml");
        await File.WriteAllTextAsync(ConfigPath, $"""
            runtime:
              stateDir: {StateDir}
            """);

        var cniConf = Path.Combine(work, "cni");
        Directory.CreateDirectory(cniConf);
        await File.WriteAllTextAsync(Path.Combine(cniConf, "10-ks.conflist"), $$"""
            {
              "cniVersion": "1.0.0",
              "name": "ks-e2e",
              "plugins": [
                { "type": "bridge", "bridge": "{{BridgeName}}", "isGateway": true, "ipMasq": false,
                  "ipam": { "type": "host-local", "ranges": [[{ "subnet": "{{Subnet}}" }]], "routes": [{ "dst": "0.0.0.0/0" }],
                            "dataDir": "{{work}}/ipam" } },
                { "type": "portmap", "capabilities": { "portMappings": true } }
              ]
            }
            """);

        var config = $$"""
            [plugins."io.containerd.grpc.v1.cri"]
              sandbox_image = "{{BuildArtifacts.PauseRef}}"
              restrict_oom_score_adj = true
              [plugins."io.containerd.grpc.v1.cri".cni]
                bin_dir = "/usr/lib/cni"
                conf_dir = "{{cniConf}}"
              [plugins."io.containerd.grpc.v1.cri".containerd]
                snapshotter = "overlayfs"
                [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
                  runtime_type = "io.containerd.runc.v2"
                [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.katasharp]
                  runtime_type = "io.containerd.katasharp.v2"
                  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.katasharp.options]
                    ConfigPath = "{{ConfigPath}}"
            """;
        Daemon = await ContainerdDaemon.StartAsync(config, environment: new Dictionary<string, string>
        {
            ["PATH"] = $"{BuildArtifacts.Bin}:{Environment.GetEnvironmentVariable("PATH")}",
            // ctr passes no runtime options: this is how its tasks find the same configuration.
            ["KATASHARP_CONFIG"] = ConfigPath,
        });

        foreach (var ns in new[] { "default", "k8s.io" })
        {
            foreach (var image in new[] { BuildArtifacts.BusyboxImage, BuildArtifacts.PauseImage })
            {
                var (code, _, stderr) = await Daemon.CtrAsync(["-n", ns, "images", "import", image], TimeSpan.FromMinutes(2));
                Assert.True(code == 0, $"importing {image} into {ns}: {stderr}");
            }
        }
    }

    public async Task DisposeAsync()
    {
        await Daemon.DisposeAsync();
        HostResources.RemoveLink(BridgeName);
        if (Directory.Exists(StateDir) && !Directory.EnumerateFileSystemEntries(Path.Combine(StateDir, "sandboxes")).Any())
        {
            Directory.Delete(StateDir, recursive: true);
        }
    }
}

[CollectionDefinition(Name)]
public sealed class KataSharpContainerdCollection : ICollectionFixture<KataSharpContainerd>
{
    public const string Name = "containerd with katasharp";
}

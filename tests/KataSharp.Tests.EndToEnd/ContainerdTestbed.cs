namespace KataSharp.Tests.EndToEnd;

/// <summary>
/// A private containerd with the CRI plugin, the katasharp runtime (our shim from build/bin on its
/// PATH) and runc side by side, a CNI bridge network of its own, and the local busybox and pause
/// images imported. KataSharp's state lives in a private directory that callers inspect for leaks.
/// Used by the end-to-end tests and by the shim benchmark.
/// </summary>
public sealed class ContainerdTestbed : IAsyncDisposable
{
    private const string Subnet = "10.214.0.0/24";

    private ContainerdTestbed(ContainerdDaemon daemon, string stateDir, string configPath, string bridgeName)
    {
        Daemon = daemon;
        StateDir = stateDir;
        ConfigPath = configPath;
        BridgeName = bridgeName;
    }

    public ContainerdDaemon Daemon { get; }

    public string StateDir { get; }

    public string ConfigPath { get; }

    public string BridgeName { get; }

    public string CriSocket => Daemon.Address;

    public static async Task<ContainerdTestbed> StartAsync()
    {
        var work = Directory.CreateTempSubdirectory("ks-e2e").FullName;
        var stateDir = $"/run/ks-e2e-{Environment.ProcessId}";
        var bridge = "ksbr" + Environment.ProcessId % 10000;
        var configPath = Path.Combine(work, "katasharp.yaml");
        await File.WriteAllTextAsync(configPath, $"""
            runtime:
              stateDir: {stateDir}
            """);

        var cniConf = Path.Combine(work, "cni");
        Directory.CreateDirectory(cniConf);
        await File.WriteAllTextAsync(Path.Combine(cniConf, "10-ks.conflist"), $$"""
            {
              "cniVersion": "1.0.0",
              "name": "ks-e2e",
              "plugins": [
                { "type": "bridge", "bridge": "{{bridge}}", "isGateway": true, "ipMasq": false,
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
                    ConfigPath = "{{configPath}}"
            """;
        var daemon = await ContainerdDaemon.StartAsync(config, environment: new Dictionary<string, string>
        {
            ["PATH"] = $"{BuildArtifacts.Bin}:{Environment.GetEnvironmentVariable("PATH")}",
            // ctr passes no runtime options: this is how its tasks find the same configuration.
            ["KATASHARP_CONFIG"] = configPath,
        });

        var testbed = new ContainerdTestbed(daemon, stateDir, configPath, bridge);
        try
        {
            foreach (var ns in new[] { "default", "k8s.io" })
            {
                foreach (var image in new[] { BuildArtifacts.BusyboxImage, BuildArtifacts.PauseImage })
                {
                    var (code, _, stderr) = await daemon.CtrAsync(["-n", ns, "images", "import", image], TimeSpan.FromMinutes(2));
                    if (code != 0)
                    {
                        throw new InvalidOperationException($"importing {image} into {ns}: {stderr}");
                    }
                }
            }
        }
        catch
        {
            await testbed.DisposeAsync();
            throw;
        }

        return testbed;
    }

    public async ValueTask DisposeAsync()
    {
        await Daemon.DisposeAsync();
        HostResources.RemoveLink(BridgeName);
        var sandboxes = Path.Combine(StateDir, "sandboxes");
        if (Directory.Exists(StateDir) && (!Directory.Exists(sandboxes) || !Directory.EnumerateFileSystemEntries(sandboxes).Any()))
        {
            Directory.Delete(StateDir, recursive: true);
        }
    }
}

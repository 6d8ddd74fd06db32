namespace KataSharp.Tests.EndToEnd;

/// <summary>
/// A private containerd with the CRI plugin, the katasharp runtime (our shim from build/bin on its
/// PATH, configured by the fragment in configs/ that this release reads) and runc side by side, a
/// CNI bridge network of its own, and the local busybox and pause images imported. KataSharp's state
/// lives in a private directory that callers inspect for leaks. Used by the end-to-end tests and by
/// the shim benchmark.
/// </summary>
public sealed class ContainerdTestbed : IAsyncDisposable
{
    /// <summary>
    /// The shims' wait for a booting guest's agent. The runtime's 60 s default is for a host with KVM; under TCG on a
    /// small loaded machine (the soak boots five VMs at once beside builds) a boot took longer once, so the tests give
    /// it room: a slow boot is not what they test, and a guest that never answers still fails, only later.
    /// </summary>
    private const int BootTimeoutSeconds = 180;

    /// <summary>
    /// The tests' deadline for a CRI or ctr call that may boot a guest. It outlasts <see cref="BootTimeoutSeconds"/>, so a
    /// guest that never answers fails in the shim, with its console tail in the error, not as a bare DeadlineExceeded here.
    /// </summary>
    public static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(BootTimeoutSeconds + 120);

    private ContainerdTestbed(ContainerdDaemon daemon, string stateDir, string configPath, string bridgeName, string pathDirectory)
    {
        PathDirectory = pathDirectory;
        Daemon = daemon;
        StateDir = stateDir;
        ConfigPath = configPath;
        BridgeName = bridgeName;
    }

    public ContainerdDaemon Daemon { get; }

    public string StateDir { get; }

    public string ConfigPath { get; }

    public string BridgeName { get; }

    /// <summary>An empty directory first on containerd's PATH, as /usr/local/bin is on a host's.</summary>
    public string PathDirectory { get; }

    public string CriSocket => Daemon.Address;

    /// <param name="release">Which containerd; bookworm's by default.</param>
    /// <param name="registerKataSharp">False: runc only, for a test that registers katasharp itself (katasharp install).</param>
    public static async Task<ContainerdTestbed> StartAsync(ContainerdRelease? release = null, bool registerKataSharp = true)
    {
        release ??= ContainerdRelease.Bookworm;
        // A killed earlier run left its bridge with this subnet's gateway address, and pods' netns on it.
        foreach (var leftover in TestbedLeftovers.Sweep())
        {
            Console.Error.WriteLine($"testbed: removed a leftover of an earlier run: {leftover}");
        }

        var work = Directory.CreateTempSubdirectory(TestbedLeftovers.DirectoryPrefix("ks-e2e", Environment.ProcessId)).FullName;
        var stateDir = TestbedLeftovers.StateDirectory(release.Tag, Environment.ProcessId);
        var bridge = TestbedLeftovers.BridgeName(release.Tag, Environment.ProcessId);
        var subnet = $"{release.SubnetPrefix}.0/24";
        var configPath = Path.Combine(work, "katasharp.yaml");
        await File.WriteAllTextAsync(configPath, $"""
            guest:
              kernel: {BuiltGuestKernel.KindOf(Path.Combine(BuildArtifacts.Directory, "guest"))}
            hypervisor:
              bootTimeoutSeconds: {BootTimeoutSeconds}
            runtime:
              stateDir: {stateDir}
            """);

        var pathDirectory = Directory.CreateDirectory(Path.Combine(work, "bin")).FullName;
        var cniConf = Path.Combine(work, "cni");
        Directory.CreateDirectory(cniConf);
        await File.WriteAllTextAsync(Path.Combine(cniConf, "10-ks.conflist"), $$"""
            {
              "cniVersion": "1.0.0",
              "name": "ks-e2e",
              "plugins": [
                { "type": "bridge", "bridge": "{{bridge}}", "isGateway": true, "ipMasq": false,
                  "ipam": { "type": "host-local", "ranges": [[{ "subnet": "{{subnet}}" }]], "routes": [{ "dst": "0.0.0.0/0" }],
                            "dataDir": "{{work}}/ipam" } },
                { "type": "portmap", "capabilities": { "portMappings": true } }
              ]
            }
            """);

        // The runtime comes from the fragment katasharp install would use, pointed at this testbed's katasharp.yaml.
        var fragment = (await File.ReadAllTextAsync(Path.Combine(BuildArtifacts.Directory, "configs", release.ConfigVersion >= 3
                ? "containerd-katasharp-v3.toml" : "containerd-katasharp.toml")))
            .Replace("/etc/katasharp/katasharp.yaml", configPath, StringComparison.Ordinal);
        fragment = registerKataSharp ? fragment : "";
        string config;
        string[] imports = [];
        if (release.ConfigVersion >= 3)
        {
            // As installed on containerd 2.x: a drop-in the config imports.
            var dropIn = Path.Combine(work, "katasharp.toml");
            await File.WriteAllTextAsync(dropIn, fragment);
            imports = registerKataSharp ? [dropIn] : [];
            config = $$"""
                [plugins.'io.containerd.cri.v1.images']
                  snapshotter = "overlayfs"
                  [plugins.'io.containerd.cri.v1.images'.pinned_images]
                    sandbox = "{{BuildArtifacts.PauseRef}}"
                [plugins.'io.containerd.cri.v1.runtime']
                  restrict_oom_score_adj = true
                  netns_mounts_under_state_dir = true
                  [plugins.'io.containerd.cri.v1.runtime'.cni]
                    bin_dirs = ["/usr/lib/cni"]
                    conf_dir = "{{cniConf}}"
                  [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
                    runtime_type = "io.containerd.runc.v2"
                """;
        }
        else
        {
            // As installed on containerd 1.x: added to the config itself.
            config = $$"""
                [plugins."io.containerd.grpc.v1.cri"]
                  sandbox_image = "{{BuildArtifacts.PauseRef}}"
                  restrict_oom_score_adj = true
                  netns_mounts_under_state_dir = true
                  [plugins."io.containerd.grpc.v1.cri".cni]
                    bin_dir = "/usr/lib/cni"
                    conf_dir = "{{cniConf}}"
                  [plugins."io.containerd.grpc.v1.cri".containerd]
                    snapshotter = "overlayfs"
                    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
                      runtime_type = "io.containerd.runc.v2"

                """ + fragment;
        }

        var daemon = await ContainerdDaemon.StartAsync(config, release: release, imports: imports, disabledPlugins: release.ConfigVersion >= 3
            ? ["io.containerd.nri.v1.nri"] // its socket is machine-wide, /var/run/nri/nri.sock
            : null, environment: new Dictionary<string, string>
        {
            // This release's own containerd-shim-runc-v2 comes before any other on the PATH.
            // Without katasharp registered, build/bin stays off it: only what install puts there can run.
            ["PATH"] = $"{pathDirectory}:{(registerKataSharp ? BuildArtifacts.Bin + ":" : "")}{release.BinDirectory}:{Environment.GetEnvironmentVariable("PATH")}",
            // ctr passes no runtime options: this is how its tasks find the same configuration.
            ["KATASHARP_CONFIG"] = configPath,
        });

        var testbed = new ContainerdTestbed(daemon, stateDir, configPath, bridge, pathDirectory);
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

    /// <summary>
    /// Stops containerd, then removes this run's bridge, netns and directories, whatever state the tests left:
    /// each step runs even if one before it failed, and only what no live process still uses goes.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            await Daemon.DisposeAsync();
        }
        finally
        {
            foreach (var leftover in TestbedLeftovers.Sweep(ownedBy: Environment.ProcessId))
            {
                Console.Error.WriteLine($"testbed: teardown removed {leftover}");
            }
        }
    }
}

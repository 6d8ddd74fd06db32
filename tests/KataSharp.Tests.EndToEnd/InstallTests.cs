using System.Text.Json;
using KataSharp.Protocol.Cri.V1;

namespace KataSharp.Tests.EndToEnd;

/// <summary>
/// <c>katasharp install</c> and <c>uninstall</c> for real, against a containerd of each release that
/// starts with runc only: install registers the runtime in that containerd's own config (a drop-in for
/// 2.x, a block in 1.6's), containerd restarted picks it up, a pod runs through the installed shim, and
/// uninstall gives the config back byte for byte.
/// </summary>
public abstract class InstallTests
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan CallTimeout = ContainerdTestbed.CallTimeout;
    private readonly ContainerdFixture _containerd;

    protected InstallTests(ContainerdFixture containerd) => _containerd = containerd;

    [ContainerdFact]
    public async Task Install_RegistersTheRuntime_APodRunsThroughTheInstalledShim_AndUninstallRestoresTheConfig()
    {
        var daemon = _containerd.Daemon;
        var config = Path.Combine(daemon.Directory_, "config.toml");
        var original = await File.ReadAllTextAsync(config);
        var root = Directory.CreateTempSubdirectory("ks-install-root").FullName;
        try
        {
            // A katasharp.yaml already there is kept: this one keeps sandboxes in the testbed's state directory.
            Directory.CreateDirectory(Path.Combine(root, "etc"));
            File.Copy(_containerd.ConfigPath, Path.Combine(root, "etc", "katasharp.yaml"));
            Assert.Null(await RuntimeEntryAsync());

            var (code, output) = await KatasharpAsync("install", "--from", BuildArtifacts.Directory, "--root", root, "--containerd-config", config, "--link-dir", _containerd.PathDirectory, "--restart", "none");
            Assert.True(code == 0, output);
            Assert.NotEqual(original, await File.ReadAllTextAsync(config));
            await daemon.RestartAsync();

            var shim = Path.Combine(root, "bin", "containerd-shim-katasharp-v2");
            var entry = await RuntimeEntryAsync();
            Assert.True(entry is not null, "containerd does not list the katasharp runtime after install:\n" + output);
            Assert.Equal(shim, entry.Value.GetProperty("runtimePath").GetString());
            Assert.Equal("io.containerd.katasharp.v2", entry.Value.GetProperty("runtimeType").GetString());

            await RunPodAsync(shim);

            // Installing again changes nothing.
            var installed = await File.ReadAllTextAsync(config);
            (code, output) = await KatasharpAsync("install", "--from", BuildArtifacts.Directory, "--root", root, "--containerd-config", config, "--link-dir", _containerd.PathDirectory, "--restart", "none");
            Assert.True(code == 0, output);
            Assert.Equal(installed, await File.ReadAllTextAsync(config));

            (code, output) = await KatasharpAsync("uninstall", "--root", root, "--restart", "none");
            Assert.True(code == 0, output);
            Assert.Equal(original, await File.ReadAllTextAsync(config));
            Assert.Equal([Path.Combine(root, "etc")], Directory.EnumerateFileSystemEntries(root));
            Assert.False(File.Exists(Path.Combine(daemon.Directory_, "conf.d", "katasharp.toml")));
            Assert.Empty(Directory.EnumerateFileSystemEntries(_containerd.PathDirectory));
            await daemon.RestartAsync();
            Assert.Null(await RuntimeEntryAsync());
        }
        finally
        {
            // Whatever failed, the testbed's containerd goes back to its own config for the tests after this one.
            await File.WriteAllTextAsync(config, original);
            Directory.Delete(root, recursive: true);
        }
    }

    private async Task RunPodAsync(string shim)
    {
        using var cri = new CriClient(_containerd.CriSocket);
        string podId;
        await using (var pod = await CriPod.RunAsync(cri, "installed", "katasharp"))
        {
            podId = pod.Id;
            Assert.True(HostResources.ProcessesMentioning(shim).Any(p => p.Contains(_containerd.Daemon.Address, StringComparison.Ordinal)),
                "no installed shim serves the pod: " + string.Join("\n", HostResources.ProcessesMentioning("containerd-shim-katasharp-v2")));
            var container = await CriTests.StartContainerAsync(cri, pod.Id, pod.Config, CriTests.ContainerConfig("uname", "sh", "-c", "uname -r; exit 3"));
            var status = await CriTests.WaitForExitAsync(cri, container);
            Assert.Equal(3, status.ExitCode);
            Assert.True(await HostResources.EventuallyAsync(() => File.Exists(status.LogPath) && File.ReadAllText(status.LogPath).Contains(BuildArtifacts.GuestKernelRelease, StringComparison.Ordinal), TimeSpan.FromSeconds(30)),
                $"{status.LogPath} lacks the guest kernel's release");
        }

        await CriTests.AssertNothingLeftAsync(_containerd, podId);
    }

    /// <summary>The katasharp runtime in the config containerd's CRI serves (its verbose status), or null.</summary>
    private async Task<JsonElement?> RuntimeEntryAsync()
    {
        using var cri = new CriClient(_containerd.CriSocket);
        var status = await cri.Runtime.StatusAsync(new StatusRequest { Verbose = true }, deadline: DateTime.UtcNow + CallTimeout);
        Assert.True(status.Info.TryGetValue("config", out var text), "CRI status has no config: " + string.Join(", ", status.Info.Keys));
        using var json = JsonDocument.Parse(text);
        var runtimes = json.RootElement.GetProperty("containerd").GetProperty("runtimes");
        return runtimes.TryGetProperty("katasharp", out var entry) ? entry.Clone() : null;
    }

    private static async Task<(int ExitCode, string Output)> KatasharpAsync(params string[] args)
    {
        var (code, stdout, stderr) = await KatasharpCli.RunAsync(CommandTimeout, args);
        return (code, stdout + stderr);
    }
}

/// <summary>containerd 1.6 with runc only, for install to register katasharp in.</summary>
public sealed class RuncOnlyContainerd() : ContainerdFixture(ContainerdRelease.Bookworm, registerKataSharp: false);

/// <summary>containerd 2.x with runc only.</summary>
public sealed class RuncOnlyContainerd2() : ContainerdFixture(ContainerdRelease.Forky, registerKataSharp: false);

public sealed class InstallTestsOnContainerd16(RuncOnlyContainerd containerd) : InstallTests(containerd), IClassFixture<RuncOnlyContainerd>;

public sealed class InstallTestsOnContainerd2(RuncOnlyContainerd2 containerd) : InstallTests(containerd), IClassFixture<RuncOnlyContainerd2>;

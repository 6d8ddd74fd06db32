using KataSharp.Runtime.Configuration;
using KataSharp.Runtime.Sandbox;
using KataSharp.Tests.Integration.Infrastructure;

namespace KataSharp.Tests.Integration.Library;

/// <summary>A fact that runs only where a virtiofsd is installed at the configured path; elsewhere it is skipped with the reason.</summary>
public sealed class VirtiofsdFactAttribute : FactAttribute
{
    public VirtiofsdFactAttribute()
    {
        var path = new SharedFsConfig().VirtiofsdPath;
        if (!File.Exists(path))
        {
            Skip = $"no virtiofsd at {path} on this host (Debian bookworm has none; trixie's needs a newer glibc)";
        }
    }
}

/// <summary>The share over virtio-fs: virtiofsd lives exactly as long as its sandbox.</summary>
[Collection("2 virtio-fs")]
public sealed class VirtioFsTests
{
    private static KataSharpConfig VirtioFsConfig()
    {
        var config = TestEnvironment.LoadConfig();
        return config with { SharedFs = config.SharedFs with { Kind = SharedFsKind.VirtioFs } };
    }

    [VirtiofsdFact]
    public async Task A_container_runs_over_virtio_fs_and_destroy_reaps_virtiofsd()
    {
        TestEnvironment.RequirePrerequisites();
        var manager = new SandboxManager(VirtioFsConfig(), TestLog.Factory);
        using var timeout = new CancellationTokenSource(TestEnvironment.OperationTimeout);
        var sandbox = await manager.CreateAsync(new SandboxOptions(), timeout.Token);
        var virtiofsd = sandbox.State.SharedFsHelperPid;
        try
        {
            Assert.True(virtiofsd > 0);
            var container = await sandbox.CreateContainerAsync(new ContainerOptions
            {
                Id = "virtiofs",
                Spec = DefaultSpec.Create(new SpecOptions { Args = ["echo", "over-virtio-fs"] }),
                RootfsDirectory = await BusyboxRootfs.CopyAsync("virtiofs"),
            }, timeout.Token);
            await using var output = OutputCapture.Start(container.Init);
            await container.StartAsync(timeout.Token);
            Assert.Equal(0, (await container.Init.WaitAsync(timeout.Token)).ExitCode);
            await output.DrainAsync();
            Assert.Equal("over-virtio-fs\n", output.Stdout.Text);
        }
        finally
        {
            await sandbox.DestroyAsync(timeout.Token);
        }

        Assert.False(Directory.Exists($"/proc/{virtiofsd}"), $"virtiofsd (pid {virtiofsd}) outlived its sandbox");
    }

    [VirtiofsdFact]
    public async Task A_vmm_that_fails_to_start_leaves_no_virtiofsd()
    {
        TestEnvironment.RequirePrerequisites();
        var config = VirtioFsConfig();
        config = config with { Hypervisor = config.Hypervisor with { Path = "/bin/false" } };
        var before = Leftovers.ProcessesNaming("virtiofsd").Select(p => p.Pid).ToList();
        using var timeout = new CancellationTokenSource(TestEnvironment.OperationTimeout);

        await Assert.ThrowsAsync<SandboxException>(() => new SandboxManager(config, TestLog.Factory).CreateAsync(new SandboxOptions(), timeout.Token));

        Assert.Equal(before, Leftovers.ProcessesNaming("virtiofsd").Select(p => p.Pid).ToList());
    }
}

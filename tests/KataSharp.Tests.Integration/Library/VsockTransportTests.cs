using KataSharp.Runtime.Configuration;
using KataSharp.Runtime.Sandbox;
using KataSharp.Tests.Integration.Infrastructure;

namespace KataSharp.Tests.Integration.Library;

/// <summary>A fact that runs only where the host has vhost-vsock; elsewhere it is reported as skipped, with the reason.</summary>
public sealed class VsockFactAttribute : FactAttribute
{
    public VsockFactAttribute()
    {
        if (!File.Exists("/dev/vhost-vsock"))
        {
            Skip = "no /dev/vhost-vsock on this host";
        }
    }
}

/// <summary>The agent channel over vhost-vsock (the default wherever the host has it).</summary>
[Collection("2 vsock transport")]
public sealed class VsockTransportTests
{
    [VsockFact]
    public async Task A_sandbox_reached_over_vsock_runs_a_container()
    {
        TestEnvironment.RequirePrerequisites();
        var config = TestEnvironment.LoadConfig();
        config = config with { Agent = config.Agent with { Transport = AgentTransportKind.Vsock } };
        var manager = new SandboxManager(config, TestLog.Factory);
        using var timeout = new CancellationTokenSource(TestEnvironment.OperationTimeout);
        await using var sandbox = await manager.CreateAsync(new SandboxOptions(), timeout.Token);

        Assert.Equal("vsock", sandbox.Agent.GuestDetails.Transport);
        var container = await sandbox.CreateContainerAsync(new ContainerOptions
        {
            Id = "vsock",
            Spec = DefaultSpec.Create(new SpecOptions { Args = ["echo", "over-vsock"] }),
            RootfsDirectory = await BusyboxRootfs.CopyAsync("vsock"),
        }, timeout.Token);
        await using var output = OutputCapture.Start(container.Init);
        await container.StartAsync(timeout.Token);
        var exit = await container.Init.WaitAsync(timeout.Token);
        await output.DrainAsync();

        Assert.Equal(0, exit.ExitCode);
        Assert.Equal("over-vsock\n", output.Stdout.Text);
    }
}

using System.Security.Cryptography;
using System.Text.Json.Nodes;
using KataSharp.Runtime.Sandbox;

namespace KataSharp.Tests.Integration.Infrastructure;

/// <summary>
/// One sandbox VM shared by every container-level test of the <see cref="SharedSandboxCollection"/>:
/// booting costs seconds of TCG time, and these tests need a container, not a VM, of their own.
/// The VM is destroyed when the collection ends.
/// </summary>
public sealed class SharedSandboxFixture : IAsyncLifetime
{
    private Sandbox? _sandbox;

    public SandboxManager Manager { get; private set; } = null!;

    public Sandbox Sandbox => _sandbox ?? throw new InvalidOperationException("the shared sandbox did not start");

    public async Task InitializeAsync()
    {
        TestEnvironment.RequirePrerequisites();
        Manager = new SandboxManager(TestEnvironment.LoadConfig(), TestLog.Factory);
        using var timeout = new CancellationTokenSource(TestEnvironment.OperationTimeout);
        _sandbox = await Manager.CreateAsync(new SandboxOptions(), timeout.Token);
        TestLog.Write($"shared sandbox {_sandbox.Id} up (QEMU pid {_sandbox.Hypervisor.Pid}) after {_sandbox.Timings?.SandboxReady.TotalMilliseconds:0} ms");
    }

    public async Task DisposeAsync()
    {
        if (_sandbox is not null)
        {
            using var timeout = new CancellationTokenSource(TestEnvironment.OperationTimeout);
            await _sandbox.DestroyAsync(timeout.Token);
        }
    }

    /// <summary>
    /// Creates and starts a container running <paramref name="args"/> on a private busybox rootfs,
    /// with its output captured. <paramref name="edit"/> may change the spec before it is sent.
    /// </summary>
    public async Task<TestContainer> StartAsync(string name, IReadOnlyList<string> args, bool stdin = false, bool terminal = false,
        long? memoryLimitBytes = null, Action<JsonObject>? edit = null)
    {
        var id = $"{name}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3))}";
        var rootfs = await BusyboxRootfs.CopyAsync(id);
        var spec = DefaultSpec.Create(new SpecOptions { Args = args, Terminal = terminal, Hostname = name, MemoryLimitBytes = memoryLimitBytes });
        edit?.Invoke(spec);
        using var timeout = new CancellationTokenSource(TestEnvironment.OperationTimeout);
        var container = await Sandbox.CreateContainerAsync(new ContainerOptions
        {
            Id = id,
            Spec = spec,
            RootfsDirectory = rootfs,
            Stdin = stdin,
            Terminal = terminal,
        }, timeout.Token);
        var output = OutputCapture.Start(container.Init);
        try
        {
            await container.StartAsync(timeout.Token);
        }
        catch
        {
            await output.DisposeAsync();
            await container.RemoveAsync(CancellationToken.None);
            throw;
        }

        return new TestContainer(container, output, rootfs);
    }

    /// <summary>Runs a container to its end: its exit and everything it wrote.</summary>
    public async Task<(ProcessExitInfo Exit, string Stdout, string Stderr)> RunAsync(string name, params string[] args)
    {
        await using var container = await StartAsync(name, args);
        var exit = await container.WaitAsync();
        await container.Output.DrainAsync();
        return (exit, container.Output.Stdout.Text, container.Output.Stderr.Text);
    }
}

[CollectionDefinition(Name)]
public sealed class SharedSandboxCollection : ICollectionFixture<SharedSandboxFixture>
{
    public const string Name = "1 shared sandbox";
}

/// <summary>A started container of the shared sandbox; disposing it kills what still runs and removes it from the guest and the share.</summary>
public sealed class TestContainer(Container container, OutputCapture output, string rootfs) : IAsyncDisposable
{
    public Container Container { get; } = container;
    public OutputCapture Output { get; } = output;

    /// <summary>The host directory that is the container's root filesystem (shared into the guest).</summary>
    public string Rootfs { get; } = rootfs;

    public string Id => Container.Id;
    public ContainerProcess Init => Container.Init;

    public async Task<ProcessExitInfo> WaitAsync()
    {
        using var timeout = new CancellationTokenSource(TestEnvironment.OperationTimeout);
        return await Init.WaitAsync(timeout.Token);
    }

    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TestEnvironment.OperationTimeout);
        try
        {
            // RemoveContainer kills whatever still runs (thawing a paused container first) and unshares the rootfs.
            await Container.RemoveAsync(timeout.Token);
            if (Leftovers.MountPointsUnder(Rootfs).Count == 0)
            {
                Directory.Delete(Path.GetDirectoryName(Rootfs)!, recursive: true);
            }
        }
        finally
        {
            await Output.DisposeAsync();
        }
    }
}

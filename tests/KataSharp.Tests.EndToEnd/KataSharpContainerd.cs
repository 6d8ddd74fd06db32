namespace KataSharp.Tests.EndToEnd;

/// <summary>A collection's shared containerd of one release (see <see cref="ContainerdTestbed"/>).</summary>
public abstract class ContainerdFixture : IAsyncLifetime
{
    private ContainerdTestbed? _testbed;

    private readonly bool _registerKataSharp;

    /// <param name="registerKataSharp">False: the testbed has runc only (see <see cref="ContainerdTestbed.StartAsync"/>).</param>
    protected ContainerdFixture(ContainerdRelease release, bool registerKataSharp = true)
    {
        Release = release;
        _registerKataSharp = registerKataSharp;
    }

    public ContainerdRelease Release { get; }

    private ContainerdTestbed Testbed => _testbed ?? throw new InvalidOperationException("not started");

    public ContainerdDaemon Daemon => Testbed.Daemon;

    public string StateDir => Testbed.StateDir;

    /// <summary>The testbed's katasharp.yaml, which every pod's shim reads.</summary>
    public string ConfigPath => Testbed.ConfigPath;

    public string CriSocket => Testbed.CriSocket;

    public string BridgeName => Testbed.BridgeName;

    public string PathDirectory => Testbed.PathDirectory;

    public async Task InitializeAsync()
    {
        // A release that is not here starts nothing: its tests are reported skipped (ContainerdFactAttribute).
        if (Release.MissingReason is null)
        {
            _testbed = await ContainerdTestbed.StartAsync(Release, _registerKataSharp);
        }
    }

    public async Task DisposeAsync()
    {
        if (_testbed is not null)
        {
            await _testbed.DisposeAsync();
        }
    }
}

/// <summary>The host's containerd 1.6.</summary>
public sealed class KataSharpContainerd() : ContainerdFixture(ContainerdRelease.Bookworm);

/// <summary>containerd 2.x from build/containerd-2.</summary>
public sealed class KataSharpContainerd2() : ContainerdFixture(ContainerdRelease.Forky);

[CollectionDefinition(Name)]
public sealed class KataSharpContainerdCollection : ICollectionFixture<KataSharpContainerd>
{
    public const string Name = "containerd with katasharp";
}

[CollectionDefinition(Name)]
public sealed class KataSharpContainerd2Collection : ICollectionFixture<KataSharpContainerd2>
{
    public const string Name = "containerd 2.x with katasharp";
}

namespace KataSharp.Tests.EndToEnd;

/// <summary>The end-to-end tests' shared containerd (see <see cref="ContainerdTestbed"/>).</summary>
public sealed class KataSharpContainerd : IAsyncLifetime
{
    private ContainerdTestbed? _testbed;

    private ContainerdTestbed Testbed => _testbed ?? throw new InvalidOperationException("not started");

    public ContainerdDaemon Daemon => Testbed.Daemon;

    public string StateDir => Testbed.StateDir;

    public string CriSocket => Testbed.CriSocket;

    public string BridgeName => Testbed.BridgeName;

    public async Task InitializeAsync() => _testbed = await ContainerdTestbed.StartAsync();

    public async Task DisposeAsync()
    {
        if (_testbed is not null)
        {
            await _testbed.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class KataSharpContainerdCollection : ICollectionFixture<KataSharpContainerd>
{
    public const string Name = "containerd with katasharp";
}

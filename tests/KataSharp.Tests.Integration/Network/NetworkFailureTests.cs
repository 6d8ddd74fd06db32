using System.Security.Cryptography;
using KataSharp.Runtime.Network;
using KataSharp.Runtime.Sandbox;
using KataSharp.Tests.Integration.Infrastructure;

namespace KataSharp.Tests.Integration.Network;

/// <summary>A sandbox that fails after its network was set up takes the network down with it; bad requests fail clearly.</summary>
[Collection(NetworkCollection.Name)]
public sealed class NetworkFailureTests
{
    [Fact]
    public async Task A_vmm_that_cannot_start_leaves_no_network_behind()
    {
        TestEnvironment.RequirePrerequisites();
        var config = TestEnvironment.LoadConfig();
        config = config with { Hypervisor = config.Hypervisor with { Path = "/nonexistent/qemu-system-x86_64" } };
        var manager = new SandboxManager(config, TestLog.Factory);
        var id = $"kstfail-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3))}";
        using var timeout = new CancellationTokenSource(TestEnvironment.OperationTimeout);

        var e = await Assert.ThrowsAsync<SandboxException>(() => manager.CreateAsync(new SandboxOptions { Id = id, Network = SandboxNetworkRequest.Nat }, timeout.Token));

        Assert.Equal(SandboxErrorCode.Unavailable, e.Code);
        Assert.Empty(await NetworkLeftovers.OfSandboxAsync(id));
        Assert.False(Directory.Exists(manager.PathsFor(id).Directory));
    }

    [Fact]
    public async Task A_pod_namespace_that_does_not_exist_is_an_invalid_argument_before_any_vm()
    {
        TestEnvironment.RequirePrerequisites();
        var manager = new SandboxManager(TestEnvironment.LoadConfig(), TestLog.Factory);
        var id = $"kstnons-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3))}";
        using var timeout = new CancellationTokenSource(TestEnvironment.OperationTimeout);

        var e = await Assert.ThrowsAsync<SandboxException>(() => manager.CreateAsync(
            new SandboxOptions { Id = id, NetworkNamespacePath = "/var/run/netns/kst-does-not-exist" }, timeout.Token));

        Assert.Equal(SandboxErrorCode.InvalidArgument, e.Code);
        Assert.Contains("/var/run/netns/kst-does-not-exist does not exist", e.Message, StringComparison.Ordinal);
        Assert.Empty(Leftovers.QemuProcesses(manager.PathsFor(id).Directory));
        Assert.False(Directory.Exists(manager.PathsFor(id).Directory));
    }
}

using KataSharp.Runtime.Configuration;
using KataSharp.Runtime.Images;
using KataSharp.Runtime.Sandbox;
using KataSharp.Tests.Integration.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;

namespace KataSharp.Tests.Integration.Library;

/// <summary>A sandbox that cannot be created fails with a clear error and leaves no VM, mount, socket or directory behind.</summary>
[Collection("2 sandbox creation failures")]
public sealed class SandboxCreationFailureTests
{
    public SandboxCreationFailureTests() => TestEnvironment.RequirePrerequisites();

    [Fact]
    public async Task A_failure_after_the_VM_booted_tears_the_VM_down()
    {
        var manager = new SandboxManager(TestEnvironment.LoadConfig(), TestLog.Factory);
        var id = "fail-" + SandboxManager.NewId();
        var booted = false;
        using var timeout = new CancellationTokenSource(TestEnvironment.OperationTimeout);

        // Unpacking a broken image is the work that runs while the VM boots (as katasharp run does it).
        var error = await Assert.ThrowsAsync<SandboxException>(() => manager.CreateAsync(new SandboxOptions
        {
            Id = id,
            WhileBooting = async (paths, ct) =>
            {
                // Fail only once QEMU runs, so that the teardown of a real VM is what is tested.
                while (!(booted = Leftovers.QemuProcesses(paths.Directory).Count > 0))
                {
                    await Task.Delay(50, ct);
                }

                await new OciImageUnpacker(NullLogger.Instance).UnpackAsync("/nonexistent/katasharp-test-image.tar", paths.Rootfs(id), ct);
            },
        }, timeout.Token));

        Assert.Equal(SandboxErrorCode.InvalidArgument, error.Code);
        Assert.Contains("/nonexistent/katasharp-test-image.tar", error.Message, StringComparison.Ordinal);
        Assert.True(booted, "QEMU never ran, so nothing was torn down");
        AssertNoTraceOf(manager.PathsFor(id));
    }

    [Fact]
    public async Task A_missing_guest_kernel_is_reported_before_any_VM_starts()
    {
        var config = TestEnvironment.LoadConfig();
        config = config with { Hypervisor = config.Hypervisor with { Kernel = "/nonexistent/vmlinux" } };
        var manager = new SandboxManager(config, TestLog.Factory);
        var id = "nokernel-" + SandboxManager.NewId();
        using var timeout = new CancellationTokenSource(TestEnvironment.OperationTimeout);

        var error = await Assert.ThrowsAsync<SandboxException>(() => manager.CreateAsync(new SandboxOptions { Id = id }, timeout.Token));

        Assert.Contains("/nonexistent/vmlinux", error.Message, StringComparison.Ordinal);
        AssertNoTraceOf(manager.PathsFor(id));
    }

    [Theory]
    [InlineData("io.katasharp.config.hypervisor.vcpus", "2", "not allowed")]
    [InlineData("io.katasharp.config.hypervisor.noSuchKey", "1", "unknown configuration key")]
    public async Task A_disallowed_or_unknown_config_annotation_is_refused(string annotation, string value, string message)
    {
        var manager = new SandboxManager(TestEnvironment.LoadConfig(), TestLog.Factory);
        var id = "annot-" + SandboxManager.NewId();
        using var timeout = new CancellationTokenSource(TestEnvironment.OperationTimeout);

        var error = await Assert.ThrowsAsync<SandboxException>(() => manager.CreateAsync(new SandboxOptions
        {
            Id = id,
            Annotations = new Dictionary<string, string> { [annotation] = value },
        }, timeout.Token));

        Assert.Equal(SandboxErrorCode.InvalidArgument, error.Code);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
        AssertNoTraceOf(manager.PathsFor(id));
    }

    [Fact]
    public async Task An_invalid_sandbox_id_is_refused()
    {
        var manager = new SandboxManager(TestEnvironment.LoadConfig(), TestLog.Factory);
        using var timeout = new CancellationTokenSource(TestEnvironment.OperationTimeout);

        var error = await Assert.ThrowsAsync<SandboxException>(() => manager.CreateAsync(new SandboxOptions { Id = "../../etc" }, timeout.Token));

        Assert.Equal(SandboxErrorCode.InvalidArgument, error.Code);
        Assert.Contains("invalid sandbox id", error.Message, StringComparison.Ordinal);
    }

    private static void AssertNoTraceOf(SandboxPaths paths)
    {
        Assert.Empty(Leftovers.QemuProcesses(paths.Directory));
        Assert.Empty(Leftovers.MountPointsUnder(paths.Directory));
        Assert.Empty(Leftovers.UnixSocketsUnder(paths.Directory));
        Assert.False(Directory.Exists(paths.Directory), $"{paths.Directory} was left behind");
    }
}

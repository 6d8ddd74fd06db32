using KataSharp.Runtime.Hypervisors;
using KataSharp.Runtime.Storage;
using Microsoft.Extensions.Logging.Abstractions;

namespace KataSharp.Tests.Unit.Runtime;

/// <summary>
/// virtiofsd's life as the share owns it, with a shell script standing in for virtiofsd (none runs on this
/// machine): the script records its arguments, and creates its socket or not as each test needs.
/// </summary>
public sealed class VirtioFsSharedFilesystemTests : IDisposable
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(20);
    private readonly string _dir = Directory.CreateTempSubdirectory("ks-virtiofs-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Socket => Path.Combine(_dir, "virtiofsd.sock");
    private string Log => Path.Combine(_dir, "virtiofsd.log");
    private string ArgsFile => Path.Combine(_dir, "args");

    /// <summary>A fake virtiofsd: writes its pid and arguments, then runs <paramref name="body"/>.</summary>
    private SharedFsSpec Fake(string body)
    {
        var script = Path.Combine(_dir, "virtiofsd");
        File.WriteAllText(script, $$"""
            #!/bin/sh
            for a in "$@"; do echo "$a"; done > {{ArgsFile}}
            for a in "$@"; do case "$a" in --socket-path=*) sock="${a#--socket-path=}";; esac; done
            {{body}}
            """);
        File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return new SharedFsSpec(SharedFsType.VirtioFs, Path.Combine(_dir, "shared"), "katasharp", script, Socket);
    }

    private VirtioFsSharedFilesystem Share(SharedFsSpec spec, TimeSpan? timeout = null) =>
        new(spec, Log, timeout ?? Generous, NullLogger.Instance);

    /// <summary>Gone for good: not running and not a zombie either (a reaped pid has no /proc entry).</summary>
    private static async Task AssertReapedAsync(int pid)
    {
        using var deadline = new CancellationTokenSource(Generous);
        while (Directory.Exists($"/proc/{pid}"))
        {
            await Task.Delay(20, deadline.Token);
        }
    }

    [Fact]
    public void The_command_line_serves_the_share_on_the_socket_with_submounts_announced()
    {
        var spec = new SharedFsSpec(SharedFsType.VirtioFs, "/run/ks/sb/shared", "katasharp", "/usr/libexec/virtiofsd", "/run/ks/sb/virtiofsd.sock");

        Assert.Equal(
            ["--socket-path=/run/ks/sb/virtiofsd.sock", "--shared-dir=/run/ks/sb/shared", "--cache=auto", "--announce-submounts", "--sandbox=namespace"],
            VirtioFsSharedFilesystem.Arguments(spec));
        Assert.Equal("virtiofs", Share(spec).GuestKind);
    }

    [Fact]
    public void A_spec_without_virtiofsd_is_refused()
    {
        Assert.Throws<ArgumentException>(() => Share(new SharedFsSpec(SharedFsType.VirtioFs, "/s")));
        Assert.Throws<ArgumentException>(() => Share(new SharedFsSpec(SharedFsType.NineP, "/s", "t", "/v", "/sock")));
    }

    [Fact]
    public async Task Start_waits_for_the_socket_and_stop_terminates_and_reaps_the_helper()
    {
        var share = Share(Fake("""touch "$sock"; trap 'exit 0' TERM; while :; do sleep 0.1; done"""));

        await share.StartAsync(CancellationToken.None);

        Assert.True(File.Exists(Socket));
        var helper = Assert.NotNull(share.Helper);
        Assert.True(helper.IsAlive);
        Assert.Equal(VirtioFsSharedFilesystem.Arguments(share.Spec), File.ReadAllLines(ArgsFile));

        await share.StopAsync(CancellationToken.None);

        await AssertReapedAsync(helper.Pid);
        Assert.False(File.Exists(Socket));
        await share.StopAsync(CancellationToken.None); // twice is fine
        await share.DisposeAsync();
    }

    [Fact]
    public async Task A_helper_that_ignores_sigterm_is_killed_and_reaped()
    {
        var share = Share(Fake("""touch "$sock"; trap '' TERM; while :; do sleep 0.1; done"""));
        await share.StartAsync(CancellationToken.None);
        var helper = share.Helper!.Value;

        await share.StopAsync(CancellationToken.None);

        await AssertReapedAsync(helper.Pid);
        await share.DisposeAsync();
    }

    [Fact]
    public async Task A_helper_that_exits_during_start_up_is_reported_with_its_output_and_reaped()
    {
        var share = Share(Fake("echo 'fuse: device not found' >&2; exit 3"));

        var e = await Assert.ThrowsAsync<SharedFilesystemException>(() => share.StartAsync(CancellationToken.None));

        Assert.Contains("exit code 3", e.Message, StringComparison.Ordinal);
        Assert.Contains("fuse: device not found", e.Message, StringComparison.Ordinal);
        await AssertReapedAsync(share.Helper!.Value.Pid);
        await share.DisposeAsync();
    }

    [Fact]
    public async Task A_helper_that_never_creates_its_socket_is_killed_after_the_timeout()
    {
        var share = Share(Fake("while :; do sleep 0.1; done"), TimeSpan.FromMilliseconds(300));

        var e = await Assert.ThrowsAsync<SharedFilesystemException>(() => share.StartAsync(CancellationToken.None));

        Assert.Contains("did not create", e.Message, StringComparison.Ordinal);
        await AssertReapedAsync(share.Helper!.Value.Pid);
        await share.DisposeAsync();
    }

    [Fact]
    public async Task A_cancelled_start_leaves_no_helper()
    {
        var share = Share(Fake("while :; do sleep 0.1; done"));
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => share.StartAsync(cancel.Token));

        await AssertReapedAsync(share.Helper!.Value.Pid);
        await share.DisposeAsync();
    }

    [Fact]
    public async Task A_missing_executable_is_a_shared_filesystem_error()
    {
        var share = Share(new SharedFsSpec(SharedFsType.VirtioFs, _dir, "katasharp", Path.Combine(_dir, "no-virtiofsd"), Socket));

        await Assert.ThrowsAsync<SharedFilesystemException>(() => share.StartAsync(CancellationToken.None));
        Assert.Null(share.Helper);
    }

    [Fact]
    public async Task Another_process_can_stop_a_kept_sandboxs_helper_from_its_recorded_identity()
    {
        var owner = Share(Fake("""touch "$sock"; while :; do sleep 0.1; done"""));
        await owner.StartAsync(CancellationToken.None);
        var recorded = owner.Helper!.Value;
        var spec = new SharedFsSpec(SharedFsType.VirtioFs, owner.Spec.HostPath);

        var attached = Assert.IsType<VirtioFsSharedFilesystem>(SharedFilesystems.Attach(spec, recorded, NullLogger.Instance));
        await attached.StopAsync(CancellationToken.None);

        // The owner (its parent here) reaps it; the attached side saw it go.
        await AssertReapedAsync(recorded.Pid);
        Assert.False(recorded.IsAlive);
        await attached.DisposeAsync();
        await owner.DisposeAsync();
    }

    [Fact]
    public async Task Nine_p_has_no_helper_to_own()
    {
        var spec = new SharedFsSpec(SharedFsType.NineP, _dir);
        var share = SharedFilesystems.Create(spec, Log, Generous, NullLogger.Instance);

        await share.StartAsync(CancellationToken.None);

        Assert.IsType<NinePSharedFilesystem>(share);
        Assert.Equal("9p", share.GuestKind);
        Assert.Null(share.Helper);
        Assert.Null(SharedFilesystems.Attach(spec, new ProcessIdentity(1, 0), NullLogger.Instance));
    }
}

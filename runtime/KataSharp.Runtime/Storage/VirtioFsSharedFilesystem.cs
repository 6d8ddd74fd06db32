using KataSharp.Runtime.Hypervisors;
using Microsoft.Extensions.Logging;

namespace KataSharp.Runtime.Storage;

/// <summary>
/// virtio-fs: virtiofsd serves the share on a vhost-user socket that the VMM connects to. This type owns
/// virtiofsd: it is started before the VMM, and stopped and reaped on every failure and at teardown, so that
/// a VMM that fails to start leaves no virtiofsd behind and an exited one leaves no zombie.
/// </summary>
public sealed partial class VirtioFsSharedFilesystem : ISharedFilesystem
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(20);

    private readonly string _logPath;
    private readonly TimeSpan _startTimeout;
    private readonly ILogger _logger;
    private HelperProcess? _virtiofsd;

    /// <param name="logPath">virtiofsd's stdout and stderr.</param>
    /// <param name="startTimeout">How long virtiofsd may take to create its socket.</param>
    public VirtioFsSharedFilesystem(SharedFsSpec spec, string logPath, TimeSpan startTimeout, ILogger logger)
    {
        if (spec.Type != SharedFsType.VirtioFs || spec.VirtiofsdPath.Length == 0 || spec.VirtiofsdSocketPath.Length == 0)
        {
            throw new ArgumentException("a virtio-fs share needs virtiofsd's path and socket", nameof(spec));
        }

        Spec = spec;
        _logPath = logPath;
        _startTimeout = startTimeout;
        _logger = logger;
    }

    private VirtioFsSharedFilesystem(SharedFsSpec spec, ProcessIdentity virtiofsd, ILogger logger)
    {
        Spec = spec;
        _logPath = "";
        _logger = logger;
        _virtiofsd = HelperProcess.Attach("virtiofsd", virtiofsd, logger);
    }

    /// <summary>Takes over the virtiofsd of a kept sandbox, to stop it.</summary>
    public static VirtioFsSharedFilesystem Attach(SharedFsSpec spec, ProcessIdentity virtiofsd, ILogger logger) => new(spec, virtiofsd, logger);

    public SharedFsSpec Spec { get; }

    public string GuestKind => "virtiofs";

    public ProcessIdentity? Helper => _virtiofsd?.Identity;

    /// <summary>
    /// virtiofsd's arguments. --announce-submounts: the share holds a bind mount per container rootfs and volume,
    /// and the guest must see each as its own filesystem (inode numbers would collide otherwise, as 9p's
    /// multidevs=remap avoids). --sandbox=namespace: virtiofsd pivots into the share, so a path the guest
    /// names cannot resolve outside it.
    /// </summary>
    public static IReadOnlyList<string> Arguments(SharedFsSpec spec) =>
        [$"--socket-path={spec.VirtiofsdSocketPath}", $"--shared-dir={spec.HostPath}", "--cache=auto", "--announce-submounts", "--sandbox=namespace"];

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (_virtiofsd is not null)
        {
            throw new InvalidOperationException("virtiofsd has already been started");
        }

        File.Delete(Spec.VirtiofsdSocketPath);
        _virtiofsd = HelperProcess.Start(Spec.VirtiofsdPath, Arguments(Spec), _logPath, _logger);
        try
        {
            await WaitForSocketAsync(_virtiofsd, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await _virtiofsd.StopAsync(CancellationToken.None).ConfigureAwait(false);
            throw;
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_virtiofsd is { } virtiofsd)
        {
            await virtiofsd.StopAsync(cancellationToken).ConfigureAwait(false);
            if (Spec.VirtiofsdSocketPath.Length > 0)
            {
                TryDeleteSocket();
            }
        }
    }

    public ValueTask DisposeAsync() => _virtiofsd?.DisposeAsync() ?? ValueTask.CompletedTask;

    private async Task WaitForSocketAsync(HelperProcess virtiofsd, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(_startTimeout);
        while (!File.Exists(Spec.VirtiofsdSocketPath))
        {
            if (virtiofsd.Exited.IsCompleted)
            {
                var status = await virtiofsd.Exited.ConfigureAwait(false);
                throw new SharedFilesystemException($"virtiofsd exited during start-up ({Describe(status)})" + Tail());
            }

            try
            {
                await Task.WhenAny(virtiofsd.Exited, Task.Delay(Poll, deadline.Token)).Unwrap().ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new SharedFilesystemException($"virtiofsd did not create {Spec.VirtiofsdSocketPath} within {_startTimeout.TotalSeconds:0.#} s" + Tail());
            }
        }

        LogReady(_logger, virtiofsd.Identity.Pid, Spec.VirtiofsdSocketPath);
    }

    private static string Describe(ProcessExitStatus status) =>
        status.ExitCode is { } code ? $"exit code {code}" : status.Signal is { } signal ? $"signal {signal}" : "status unknown";

    private string Tail() => LogTail.Read(_logPath) is { Length: > 0 } log ? $"\nvirtiofsd said:\n{log}" : "";

    private void TryDeleteSocket()
    {
        try
        {
            File.Delete(Spec.VirtiofsdSocketPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The sandbox directory goes with it.
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "virtiofsd (pid {Pid}) listens on {Socket}")]
    private static partial void LogReady(ILogger logger, int pid, string socket);
}

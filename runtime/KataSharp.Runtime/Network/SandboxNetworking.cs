using Microsoft.Extensions.Logging;

namespace KataSharp.Runtime.Network;

/// <summary>
/// A sandbox's network from start to end: sets up the host side of a <see cref="SandboxNetworkRequest"/>,
/// recording every step in the sandbox's network.json as it goes, and tears down whatever that file lists.
/// Used by the sandbox manager; the guest side is <see cref="GuestNetworkConfig.ApplyAsync"/>.
/// </summary>
public sealed partial class SandboxNetworking
{
    private readonly INetnsCommandRunner _runner;
    private readonly IHostSysctl _sysctl;
    private readonly ILogger _logger;

    public SandboxNetworking(ILogger logger, INetnsCommandRunner? runner = null, IHostSysctl? sysctl = null)
    {
        _logger = logger;
        _runner = runner ?? NetnsCommandRunner.Default;
        _sysctl = sysctl ?? HostSysctl.Instance;
    }

    /// <summary>Where <c>ip netns add</c> puts namespaces; only tests change it.</summary>
    internal string NetnsDirectory { get; init; } = NatNetworkPlan.IpNetnsDirectory;

    /// <summary>
    /// Sets up the host side, all of it. On failure everything done so far is undone, network.json is removed, and the
    /// exception is rethrown.
    /// </summary>
    /// <exception cref="NetworkException">A step failed; see <see cref="NetworkException.Kind"/>.</exception>
    public async Task<SandboxNetworkAttachment> AttachAsync(SandboxNetworkRequest request, string sandboxId, string sandboxDirectory, CancellationToken cancellationToken)
    {
        var attachment = await BeginAttachAsync(request, sandboxId, sandboxDirectory, cancellationToken).ConfigureAwait(false);
        try
        {
            await attachment.Completion.ConfigureAwait(false);
        }
        catch
        {
            // network.json lists every step taken, so tearing it down is the rollback.
            await TryTeardownAsync(sandboxDirectory, CancellationToken.None).ConfigureAwait(false);
            throw;
        }

        return attachment;
    }

    /// <summary>
    /// Sets up what QEMU needs at start (the namespace, the taps) and returns; the rest continues as
    /// <see cref="SandboxNetworkAttachment.Completion"/>, whose failure the caller undoes with <see cref="TeardownAsync"/>
    /// once it has completed. On failure before returning, everything done so far is undone, network.json is removed,
    /// and the exception is rethrown.
    /// </summary>
    /// <param name="sandboxDirectory">The sandbox's own directory (it must exist): network.json goes there, and its
    /// parent, the sandboxes directory, is what subnet allocation locks and scans.</param>
    /// <exception cref="NetworkException">A step failed; see <see cref="NetworkException.Kind"/>.</exception>
    public async Task<SandboxNetworkAttachment> BeginAttachAsync(SandboxNetworkRequest request, string sandboxId, string sandboxDirectory, CancellationToken cancellationToken)
    {
        if (request.Mode == SandboxNetworkMode.None)
        {
            return SandboxNetworkAttachment.None;
        }

        var mode = ModeFor(request, sandboxId, sandboxDirectory);
        var record = new NetworkRecord { Mode = mode.RecordName };
        var undo = new NetworkUndoLog(steps =>
        {
            record.Undo = [.. steps];
            NetworkRecordStore.Write(sandboxDirectory, record);
        });
        try
        {
            return await mode.AttachAsync(record, undo, () => NetworkRecordStore.Write(sandboxDirectory, record), cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            var failed = await NetworkUndo.RunAsync(_runner, undo.Steps, _logger, CancellationToken.None).ConfigureAwait(false);
            if (failed.Count == 0)
            {
                TryDeleteRecord(sandboxDirectory);
            }
            else
            {
                // Keep what is left in the record: removing the sandbox retries it.
                record.Undo = failed.Select(f => f.Step).Reverse().ToList();
                NetworkRecordStore.Write(sandboxDirectory, record);
            }

            throw;
        }
    }

    /// <summary>
    /// Undoes everything the sandbox's network.json lists, last step first, and deletes the file. Nothing to do
    /// without one. Safe to repeat: what is already gone counts as undone.
    /// </summary>
    /// <exception cref="NetworkException">Some steps failed (all were tried); network.json keeps those for a retry.</exception>
    public async Task TeardownAsync(string sandboxDirectory, CancellationToken cancellationToken)
    {
        var record = NetworkRecordStore.Read(sandboxDirectory);
        if (record is null)
        {
            return;
        }

        var failed = await NetworkUndo.RunAsync(_runner, record.Undo, _logger, cancellationToken).ConfigureAwait(false);
        if (failed.Count > 0)
        {
            record.Undo = failed.Select(f => f.Step).Reverse().ToList();
            NetworkRecordStore.Write(sandboxDirectory, record);
            throw new NetworkException($"cannot remove the network of {sandboxDirectory}: " +
                string.Join("; ", failed.Select(f => $"{NetnsCommandRunner.Describe(f.Step.Netns, f.Step.Command)}: {f.Reason}")));
        }

        TryDeleteRecord(sandboxDirectory);
        LogTornDown(_logger, record.Mode, record.NetnsPath ?? "");
    }

    /// <summary>
    /// Tears down and logs instead of throwing, for paths that must go on (a failed create, a destroy).
    /// </summary>
    /// <returns>True when nothing of the network is left, so that the sandbox directory, and network.json with it, may go.</returns>
    public async Task<bool> TryTeardownAsync(string sandboxDirectory, CancellationToken cancellationToken)
    {
        try
        {
            await TeardownAsync(sandboxDirectory, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (Exception e) when (e is NetworkException or OperationCanceledException or IOException)
        {
            LogTeardownFailed(_logger, sandboxDirectory, e.Message);
            return false;
        }
    }

    /// <summary>The implementation of a request's mode (None was handled before).</summary>
    private ISandboxNetworkMode ModeFor(SandboxNetworkRequest request, string sandboxId, string sandboxDirectory) => request.Mode switch
    {
        SandboxNetworkMode.PodNamespace => new PodNamespaceNetworkMode(request.NetnsPath, _runner, _logger),
        SandboxNetworkMode.Nat => new PrivateNetnsNetworkMode(sandboxId, sandboxDirectory, NetnsDirectory, _runner, _sysctl, _logger),
        _ => throw new NetworkException($"unknown network mode {request.Mode}", NetworkErrorKind.InvalidArgument),
    };

    private static void TryDeleteRecord(string sandboxDirectory)
    {
        try
        {
            NetworkRecordStore.Delete(sandboxDirectory);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The sandbox directory goes soon anyway.
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "network: {Mode} network of {Netns} removed")]
    private static partial void LogTornDown(ILogger logger, string mode, string netns);

    [LoggerMessage(Level = LogLevel.Error, Message = "network: cannot remove the network of {Directory}: {Reason}; the sandbox directory stays so that katasharp rm can retry")]
    private static partial void LogTeardownFailed(ILogger logger, string directory, string reason);
}

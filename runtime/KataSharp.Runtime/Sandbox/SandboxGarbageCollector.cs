using Microsoft.Extensions.Logging;

namespace KataSharp.Runtime.Sandbox;

/// <summary>What a collection did: the sandboxes it removed, the ones it kept (live, or being created), and the stale ones it could not remove.</summary>
public sealed record GarbageReport(IReadOnlyList<string> Removed, IReadOnlyList<string> Kept, IReadOnlyList<string> Failed);

/// <summary>
/// Removes what crashed sandboxes left (their directory, mounts, taps, netns, NAT rules, helper
/// processes): a sandbox is stale when nobody owns it (its <see cref="SandboxOwnerLock"/> is free) and
/// its VM is not running. A sandbox with an owner, or with a running VM, is never touched; one with
/// no state.json yet is being created. Each stale sandbox is removed while this holds its owner lock,
/// so a create of the same id waits for no half-removed directory.
/// </summary>
public sealed partial class SandboxGarbageCollector
{
    private readonly SandboxManager _manager;
    private readonly ILogger _logger;

    public SandboxGarbageCollector(SandboxManager manager, ILogger logger)
    {
        _manager = manager;
        _logger = logger;
    }

    public async Task<GarbageReport> CollectAsync(CancellationToken cancellationToken)
    {
        List<string> removed = [], kept = [], failed = [];
        foreach (var listing in _manager.List())
        {
            using var owner = await SandboxOwnerLock.TryTakeAsync(listing.Paths.Directory, cancellationToken).ConfigureAwait(false);
            // Read again under the lock: the listing may predate a create that has since written its state.
            var sandbox = owner is null ? null : _manager.Describe(listing.Id);
            if (owner is null || sandbox is null || sandbox.State is null || sandbox.VmRunning)
            {
                kept.Add(listing.Id);
                continue;
            }

            try
            {
                await _manager.RemoveAsync(listing.Id, force: true, cancellationToken).ConfigureAwait(false);
                LogCollected(_logger, listing.Id);
                removed.Add(listing.Id);
            }
            catch (SandboxException e)
            {
                LogCollectFailed(_logger, listing.Id, e.Message);
                failed.Add(listing.Id);
            }
        }

        return new GarbageReport(removed, kept, failed);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "gc: removed stale sandbox {SandboxId}")]
    private static partial void LogCollected(ILogger logger, string sandboxId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "gc: cannot remove stale sandbox {SandboxId}: {Reason}")]
    private static partial void LogCollectFailed(ILogger logger, string sandboxId, string reason);
}

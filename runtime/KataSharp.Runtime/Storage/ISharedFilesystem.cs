using KataSharp.Runtime.Hypervisors;

namespace KataSharp.Runtime.Storage;

/// <summary>
/// How a sandbox's share reaches the guest (9p built into the VMM, or virtio-fs through virtiofsd). An
/// implementation owns the whole life of any helper process it needs: it starts it before the VMM, reaps it,
/// and kills it on every failure path, so nothing outlives the sandbox and nothing stays a zombie.
/// </summary>
public interface ISharedFilesystem : IAsyncDisposable
{
    /// <summary>What the VMM's device needs (the exported directory, the tag, virtiofsd's socket).</summary>
    SharedFsSpec Spec { get; }

    /// <summary>The kind the agent mounts ("9p" or "virtiofs", CreateSandboxRequest.shared_fs.kind).</summary>
    string GuestKind { get; }

    /// <summary>The helper process, for state.json, so that another process can stop it (<c>katasharp rm</c>). Null: there is none.</summary>
    ProcessIdentity? Helper { get; }

    /// <summary>Starts the helper and waits until the VMM can connect to it; on failure nothing is left running.</summary>
    /// <exception cref="SharedFilesystemException">The helper did not start or did not become ready in time.</exception>
    Task StartAsync(CancellationToken cancellationToken);

    /// <summary>Stops the helper (SIGTERM, then SIGKILL) and reaps it. Safe to call more than once.</summary>
    Task StopAsync(CancellationToken cancellationToken);
}

/// <summary>The shared filesystem could not be set up.</summary>
public sealed class SharedFilesystemException(string message, Exception? inner = null) : Exception(message, inner);

namespace KataSharp.Runtime.Network;

/// <summary>
/// One way of giving a sandbox its host-side network: mirroring a namespace someone else prepared
/// (<see cref="PodNamespaceNetworkMode"/>), or making a private one first (<see cref="PrivateNetnsNetworkMode"/>,
/// <c>katasharp run</c>). A mode logs the undo of every step in <paramref name="undo"/> before taking it and fills in
/// <see cref="NetworkRecord"/>; <see cref="SandboxNetworking"/> owns the record, the rollback and the teardown.
/// </summary>
public interface ISandboxNetworkMode
{
    /// <summary>The mode as network.json names it.</summary>
    string RecordName { get; }

    /// <param name="save">Persists <paramref name="record"/> (network.json), to call once a field that teardown needs is set.</param>
    /// <exception cref="NetworkException">A step failed; the caller undoes what <paramref name="undo"/> lists.</exception>
    Task<SandboxNetworkAttachment> AttachAsync(NetworkRecord record, NetworkUndoLog undo, Action save, CancellationToken cancellationToken);
}

using Microsoft.Extensions.Logging;

namespace KataSharp.Runtime.Network;

/// <summary>A namespace CNI (or anyone) prepared: its endpoints are mirrored into the VM (tc-mirror), and QEMU runs in it.</summary>
public sealed class PodNamespaceNetworkMode : ISandboxNetworkMode
{
    private readonly string _netnsPath;
    private readonly TcMirrorNetwork _mirror;

    /// <exception cref="NetworkException">InvalidArgument: no namespace path.</exception>
    public PodNamespaceNetworkMode(string? netnsPath, INetnsCommandRunner runner, ILogger logger)
    {
        _netnsPath = netnsPath is { Length: > 0 } path ? Path.GetFullPath(path)
            : throw new NetworkException("a pod network needs the path of its network namespace", NetworkErrorKind.InvalidArgument);
        _mirror = new TcMirrorNetwork(runner, logger);
    }

    public string RecordName => "pod";

    public async Task<SandboxNetworkAttachment> AttachAsync(NetworkRecord record, NetworkUndoLog undo, Action save, CancellationToken cancellationToken)
    {
        record.NetnsPath = _netnsPath;
        save();
        var tc = await _mirror.AttachAsync(_netnsPath, undo, cancellationToken).ConfigureAwait(false);
        return new SandboxNetworkAttachment(_netnsPath, tc.Nics, tc.Guest) { Completion = tc.Mirrored };
    }
}

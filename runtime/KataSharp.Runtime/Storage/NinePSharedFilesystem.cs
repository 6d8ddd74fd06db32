using KataSharp.Runtime.Hypervisors;

namespace KataSharp.Runtime.Storage;

/// <summary>9p: the VMM serves the share itself, so there is no helper process to own.</summary>
public sealed class NinePSharedFilesystem(SharedFsSpec spec) : ISharedFilesystem
{
    /// <summary>
    /// The 9p export's options. multidevs=remap: the share is made of one bind mount per rootfs and volume, and
    /// inode numbers from different filesystems must not collide in the guest.
    /// <para>
    /// Security model: passthrough, not mapped-xattr. Under a root QEMU, passthrough makes the guest's owners,
    /// modes and device nodes real on the host; that is made harmless by the layout instead
    /// (<see cref="SharedDirectory"/>): every bind in the share is nosuid and nodev, so a setuid file or a device
    /// node the guest makes is inert through it; the sandbox directory and the private mount tree are 0700, so an
    /// unprivileged host user cannot reach the rootfs sources either; and the top of the share is read-only to the
    /// guest. mapped-xattr was rejected: it stores symlinks as regular files, so every image unpacked on the host
    /// (whose symlinks are real) would break in the guest, it needs user xattrs on every backing filesystem, and
    /// virtio-fs (virtiofsd as root) has passthrough semantics anyway, so one model now serves both. What stays:
    /// a rw volume's own host directory receives the guest's files with their real modes, so a directory shared
    /// read-write must not be reachable by unprivileged host users (kubelet's pod volume directories are not).
    /// </para>
    /// </summary>
    public const string ExportOptions = "security_model=passthrough,multidevs=remap";

    public SharedFsSpec Spec { get; } = spec;

    public string GuestKind => "9p";

    public ProcessIdentity? Helper => null;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

using System.Globalization;
using System.Text.Json.Nodes;
using KataSharp.Native;
using KataSharp.Native.Files;
using KataSharp.Native.Mounts;
using Microsoft.Extensions.Logging;

namespace KataSharp.Runtime.Storage;

/// <summary>
/// A sandbox's share, laid out as Kata's runtime-rs does so that a hostile guest cannot steer the host's mounts:
/// <list type="bullet">
/// <item><c>mounts/</c> (<see cref="PrivatePath"/>, 0700, never exported) is where the host makes every bind: a
/// container's rootfs at <c>mounts/&lt;cid&gt;/rootfs</c>, its volumes at <c>mounts/&lt;cid&gt;/mounts/&lt;n&gt;</c>.</item>
/// <item><c>shared/</c> (<see cref="Path"/>), what the VMM exports, is a read-only, nosuid, nodev bind of
/// <c>mounts/</c> and a slave of it, so each later bind appears in it while the guest can create, rename or
/// replace nothing at the levels where the host works. Rootfs and rw volumes stay writable below their own
/// mount points, since each bind keeps its own flags.</item>
/// </list>
/// Every bind is nosuid and nodev, and read-only is recursive (mount_setattr AT_RECURSIVE), so a nested mount
/// of a read-only volume is read-only too; the attributes are set before the bind enters the tree, so its copy in
/// <c>shared/</c> never exists without them. Targets are created and opened beneath <c>mounts/</c> without
/// following symlinks, and mounted onto by fd; removal walks by fd. Teardown finds the mounts in
/// /proc/self/mountinfo rather than in memory, so it also cleans up after a process that died.
/// </summary>
public sealed partial class SharedDirectory
{
    /// <summary>rwx for the owner (root) only.</summary>
    private const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>MS_SHARED: mounts made under <c>mounts/</c> propagate to its slave <c>shared/</c>.</summary>
    private const ulong MsShared = 1 << 20;

    private const ulong NoSuidNoDev = Linux.MOUNT_ATTR_NOSUID | Linux.MOUNT_ATTR_NODEV;

    private readonly ILogger _logger;

    /// <param name="path">The exported view (<c>shared/</c>).</param>
    /// <param name="privatePath">The host's private tree (<c>mounts/</c>), beside it in the sandbox directory.</param>
    public SharedDirectory(string path, string privatePath, ILogger logger)
    {
        Path = System.IO.Path.GetFullPath(path);
        PrivatePath = System.IO.Path.GetFullPath(privatePath);
        _logger = logger;
    }

    /// <summary>What the VMM exports to the guest.</summary>
    public string Path { get; }

    /// <summary>Where the host makes its mounts; never exported.</summary>
    public string PrivatePath { get; }

    /// <summary>
    /// Makes <c>mounts/</c> a shared mount of its own and <c>shared/</c> a read-only, nosuid, nodev slave bind of it.
    /// On failure, what was mounted is unmounted again.
    /// </summary>
    /// <exception cref="IOException">A directory or mount could not be made.</exception>
    public void Create()
    {
        Directory.CreateDirectory(PrivatePath, Private);
        Directory.CreateDirectory(Path, Private);
        try
        {
            BindMounts.Bind(PrivatePath, PrivatePath);
            SystemCalls.Mount(null, PrivatePath, null, MsShared, null);
            BindMounts.Bind(PrivatePath, Path);
            SystemCalls.Mount(null, Path, null, Linux.MS_SLAVE, null);
            FdMounts.SetAttributes(Path, FdMounts.ReadOnlyAttributes, 0, recursive: false);
        }
        catch
        {
            BindMounts.Unmount(Path);
            BindMounts.Unmount(PrivatePath);
            throw;
        }
    }

    /// <summary>Where a container's rootfs appears, relative to the share (what CreateContainerRequest.rootfs carries).</summary>
    public static string RootfsRelativePath(string containerId) => $"{containerId}/rootfs";

    /// <summary>Bind-mounts a container's root filesystem at <c>shared/&lt;cid&gt;/rootfs</c> and returns the relative path.</summary>
    public string ShareRootfs(string containerId, string rootfsDirectory, bool readOnly = false)
    {
        ValidateId(containerId);
        if (!Directory.Exists(rootfsDirectory))
        {
            throw new DirectoryNotFoundException($"container rootfs {rootfsDirectory} does not exist");
        }

        var relative = RootfsRelativePath(containerId);
        Mount(rootfsDirectory, relative, readOnly, isDirectory: true, Linux.MS_PRIVATE);
        return relative;
    }

    /// <summary>
    /// Shares every bind mount of an OCI spec whose source is an absolute host path (the CLI's -v volumes and
    /// CRI's volumes alike): the source is bind-mounted at <c>shared/&lt;cid&gt;/mounts/&lt;n&gt;</c> (read-only,
    /// recursively, when the mount says "ro") and the spec's source is rewritten to that relative path, which
    /// the agent resolves under its share.
    /// </summary>
    public void ShareSpecMounts(string containerId, JsonObject spec)
    {
        ValidateId(containerId);
        if (spec["mounts"] is not JsonArray mounts)
        {
            return;
        }

        var n = 0;
        foreach (var mount in mounts.OfType<JsonObject>())
        {
            var options = (mount["options"] as JsonArray)?.Select(o => o?.GetValue<string>() ?? "").ToList() ?? [];
            var isBind = mount["type"]?.GetValue<string>() == "bind" || options.Contains("bind") || options.Contains("rbind");
            if (!isBind || mount["source"]?.GetValue<string>() is not { } source || !source.StartsWith('/'))
            {
                continue;
            }

            if (!File.Exists(source) && !Directory.Exists(source))
            {
                throw new FileNotFoundException($"bind mount source {source} does not exist", source);
            }

            var relative = $"{containerId}/mounts/{n.ToString(CultureInfo.InvariantCulture)}";
            n++;
            Mount(source, relative, options.Contains("ro"), Directory.Exists(source), Propagation(options));
            mount["source"] = relative;
        }
    }

    /// <summary>Unmounts everything of a container and removes its directories (by fd, never following a symlink).</summary>
    public void RemoveContainer(string containerId)
    {
        ValidateId(containerId);
        var own = System.IO.Path.Combine(PrivatePath, containerId);
        if (!Directory.Exists(own))
        {
            return;
        }

        // The binds in mounts/ first: their copies in shared/ go with them (propagation); any left are unmounted after.
        MountedDirectory.UnmountAll(own, _logger);
        MountedDirectory.UnmountAll(System.IO.Path.Combine(Path, containerId), _logger);
        SafeRemove.RemoveAll(own);
    }

    /// <summary>Unmounts everything under the share and deletes it. Safe to call more than once.</summary>
    public void Destroy()
    {
        MountedDirectory.UnmountAndDelete(Path, _logger);
        MountedDirectory.UnmountAndDelete(PrivatePath, _logger);
        MountedDirectory.UnmountAndDelete(StagingPath, _logger);
    }

    /// <summary>Where a bind is prepared before it goes into the tree: beside <c>mounts/</c>, outside its propagation.</summary>
    private string StagingPath => PrivatePath + "-staging";

    /// <summary>
    /// Binds the source at a staging point first and sets nosuid, nodev and, if asked, read-only there on it and every
    /// mount beneath it: mount attributes do not propagate, so the mount must already have them when its copy
    /// appears in <c>shared/</c>. Then creates the target beneath <c>mounts/</c> without following a symlink, binds
    /// the prepared mount onto the opened target (not onto its path), and drops the staging point.
    /// </summary>
    private void Mount(string source, string relativeTarget, bool readOnly, bool isDirectory, ulong propagation)
    {
        var staging = System.IO.Path.Combine(StagingPath, relativeTarget.Replace('/', '_'));
        Directory.CreateDirectory(StagingPath, Private);
        BindMounts.BindStaged(source, staging, isDirectory, NoSuidNoDev | (readOnly ? Linux.MOUNT_ATTR_RDONLY : 0), propagation, OpenTarget, _logger);
        LogMounted(_logger, source, relativeTarget, readOnly);

        OwnedFd OpenTarget()
        {
            using var root = SafePath.OpenRoot(PrivatePath);
            return isDirectory ? SafePath.CreateDirectoryBeneath(root, relativeTarget) : CreateFileTarget(root, relativeTarget);
        }
    }

    /// <summary>
    /// A volume asking for (r)slave propagation (CRI's HostToContainer) receives the mounts the host makes under its
    /// source later, and their unmounts; any other is private, as a runc bind without propagation is. Nothing is
    /// ever propagated back to the host: the shim refuses (r)shared before a volume gets here.
    /// </summary>
    internal static ulong Propagation(IReadOnlyCollection<string> options) =>
        options.Contains("rslave") || options.Contains("slave") ? Linux.MS_SLAVE : Linux.MS_PRIVATE;

    private static OwnedFd CreateFileTarget(OwnedFd root, string relativeTarget)
    {
        // A file bind mount needs a file to mount over; its parent directories come first.
        using (SafePath.CreateDirectoryBeneath(root, System.IO.Path.GetDirectoryName(relativeTarget)!))
        {
        }

        return SafePath.CreateFileBeneath(root, relativeTarget, Linux.O_RDONLY);
    }

    private static void ValidateId(string containerId)
    {
        if (containerId.Length == 0 || containerId is "." or ".." || containerId.Contains('/', StringComparison.Ordinal) || containerId.Contains('\0', StringComparison.Ordinal))
        {
            throw new ArgumentException($"invalid container id '{containerId}'", nameof(containerId));
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "bind-mounted {Source} at {Target} (nosuid, nodev, read-only: {ReadOnly})")]
    private static partial void LogMounted(ILogger logger, string source, string target, bool readOnly);
}

using System.Formats.Tar;
using System.Runtime.InteropServices;
using KataSharp.Native;

namespace KataSharp.Runtime.Images;

/// <summary>What an applier left out of the rootfs for the host's safety.</summary>
internal sealed record NeutralisedEntries(int DeviceNodes, int SetIdFiles);

/// <summary>
/// Applies one uncompressed layer tar onto a rootfs directory: creates files, directories, links and
/// FIFOs with their owners, modes and times, and honours OCI whiteouts (<c>.wh.NAME</c> deletes
/// NAME from lower layers, <c>.wh..wh..opq</c> empties a directory of everything from lower layers).
/// </summary>
/// <remarks>
/// The rootfs is a directory on the host, handed later to a guest that runs untrusted code, so the host
/// side is made harmless: nothing is created, changed or deleted outside the root (every path goes
/// through <see cref="ScopedPath"/>), device nodes are not created, and set-uid/set-gid bits are dropped
/// from files (a set-uid-root binary on the host's disk is a local privilege escalation).
/// </remarks>
internal sealed class LayerApplier
{
    private const string WhiteoutPrefix = ".wh.";
    private const string WhiteoutMetaPrefix = ".wh..wh.";
    private const string OpaqueWhiteout = ".wh..wh..opq";
    private const UnixFileMode SetIdBits = UnixFileMode.SetUser | UnixFileMode.SetGroup;

    /// <summary>overlayfs's mark of a directory that hides everything below it.</summary>
    private const string OverlayOpaqueXattr = "trusted.overlay.opaque";

    private readonly string _root;
    private readonly bool _overlayWhiteouts;
    private readonly bool _isRoot = Environment.IsPrivilegedProcess;
    private int _skippedDevices;
    private int _strippedSetId;

    /// <param name="overlayWhiteouts">
    /// Whether <paramref name="root"/> is one layer of an overlay rather than the whole rootfs: whiteouts then become
    /// overlayfs's own (a 0:0 character device, the opaque xattr) for the overlay to honour, instead of deletions.
    /// </param>
    public LayerApplier(string root, bool overlayWhiteouts = false)
    {
        _root = Path.GetFullPath(root);
        _overlayWhiteouts = overlayWhiteouts;
    }

    public NeutralisedEntries Neutralised => new(_skippedDevices, _strippedSetId);

    public void Apply(Stream layer, string layerName, CancellationToken cancellationToken)
    {
        // Paths this layer created: an opaque whiteout must not delete them.
        var created = new HashSet<string>(StringComparer.Ordinal);
        var directoryTimes = new List<(List<string> Components, string Path, DateTimeOffset Time)>();
        using var reader = new TarReader(layer, leaveOpen: true);
        TarEntry? entry = null;
        try
        {
            while ((entry = reader.GetNextEntry()) is not null)
            {
                cancellationToken.ThrowIfCancellationRequested();
                ApplyEntry(entry, layerName, created, directoryTimes);
            }
        }
        catch (Exception e) when (e is InvalidDataException or FormatException)
        {
            throw new ImageException($"layer {layerName} is not a valid tar archive: {e.Message}", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new ImageException($"layer {layerName}: cannot apply {entry?.Name ?? "an entry"}: {e.Message}", e);
        }

        // Creating children changed the directories' times; set them last, deepest first. A later entry may
        // have replaced a directory on the way with a symlink: then the directory is no longer there to touch.
        foreach (var (components, path, time) in directoryTimes.OrderByDescending(d => d.Components.Count))
        {
            if (ScopedPath.PlainDirectory(_root, components) == path)
            {
                SetTime(path, time);
            }
        }
    }

    private void ApplyEntry(TarEntry entry, string layerName, HashSet<string> created, List<(List<string>, string, DateTimeOffset)> directoryTimes)
    {
        if (entry.EntryType is TarEntryType.GlobalExtendedAttributes or TarEntryType.ExtendedAttributes)
        {
            return;
        }

        var components = ScopedPath.Components(entry.Name, layerName);
        if (components.Count == 0)
        {
            return; // "./": the root itself keeps the mode the unpacker gave it.
        }

        var relative = string.Join('/', components);
        var baseName = components[^1];
        var parentComponents = components.Take(components.Count - 1).ToList();
        var parent = ScopedPath.Resolve(_root, parentComponents, followFinal: true);

        if (baseName.StartsWith(WhiteoutPrefix, StringComparison.Ordinal))
        {
            if (_overlayWhiteouts)
            {
                EnsureDirectory(parent, parentComponents, created);
            }

            ApplyWhiteout(baseName, parent, string.Join('/', parentComponents), layerName, created);
            return;
        }

        EnsureDirectory(parent, parentComponents, created);
        var target = Path.Combine(parent, baseName);
        var existing = new FileInfo(target);
        var existingIsDirectory = existing.LinkTarget is null && Directory.Exists(target);
        var exists = existing.Exists || existingIsDirectory || existing.LinkTarget is not null;
        if (exists && !(existingIsDirectory && entry.EntryType == TarEntryType.Directory))
        {
            Remove(target);
        }

        switch (entry.EntryType)
        {
            case TarEntryType.Directory:
                Directory.CreateDirectory(target);
                directoryTimes.Add((components, target, entry.ModificationTime));
                break;
            case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile:
                // CreateNew is O_EXCL: it never opens through a symlink.
                using (var file = new FileStream(target, FileMode.CreateNew, FileAccess.Write, FileShare.None))
                {
                    entry.DataStream?.CopyTo(file);
                }

                break;
            case TarEntryType.SymbolicLink:
                File.CreateSymbolicLink(target, entry.LinkName);
                break;
            case TarEntryType.HardLink:
                // link(2) does not follow a symlink in its last component; the others are resolved inside the root.
                var linkTarget = ScopedPath.Resolve(_root, ScopedPath.Components(entry.LinkName, layerName), followFinal: false);
                if (Libc.Link(linkTarget, target) != 0)
                {
                    throw new ImageException($"layer {layerName}: cannot hard-link {relative} to {entry.LinkName}: {ErrnoException.Describe(Marshal.GetLastPInvokeError())}");
                }

                created.Add(relative);
                return; // A hard link shares the target's inode: owner, mode and time are the target's.
            case TarEntryType.CharacterDevice or TarEntryType.BlockDevice:
                // A device node on the host's disk opens the host's device; the guest's /dev is its own tmpfs anyway.
                _skippedDevices++;
                return;
            case TarEntryType.Fifo:
                if (!MakeFifo(entry, target))
                {
                    return;
                }

                break;
            default:
                return; // Sparse and other exotic types do not appear in OCI layers.
        }

        created.Add(relative);
        SetOwnerModeTime(entry, target);
    }

    private void ApplyWhiteout(string baseName, string parent, string relativeParent, string layerName, HashSet<string> created)
    {
        if (baseName == OpaqueWhiteout)
        {
            if (_overlayWhiteouts)
            {
                MarkOpaque(parent, layerName);
            }
            else
            {
                ApplyOpaque(parent, relativeParent, created);
            }

            return;
        }

        if (baseName.StartsWith(WhiteoutMetaPrefix, StringComparison.Ordinal))
        {
            return; // Other aufs metadata (.wh..wh.plnk, ...): never part of the rootfs, as containerd does.
        }

        // ".wh.." and ".wh..." would name the directory itself or its parent: the rootfs, or above it.
        var victim = baseName[WhiteoutPrefix.Length..];
        if (victim is "" or "." or "..")
        {
            throw new ImageException($"layer {layerName}: whiteout '{baseName}' in '/{relativeParent}' names no file");
        }

        if (_overlayWhiteouts)
        {
            MakeOverlayWhiteout(Path.Combine(parent, victim), layerName);
            return;
        }

        Remove(Path.Combine(parent, victim));
    }

    private static void MakeOverlayWhiteout(string path, string layerName)
    {
        const uint characterDevice = 0x2000;
        Remove(path);
        if (Libc.MkNod(path, characterDevice, 0) != 0)
        {
            throw new ImageException($"layer {layerName}: cannot make the overlay whiteout {path}: {ErrnoException.Describe(Marshal.GetLastPInvokeError())}");
        }
    }

    private static unsafe void MarkOpaque(string directory, string layerName)
    {
        if (new DirectoryInfo(directory) is not { LinkTarget: null, Exists: true })
        {
            return;
        }

        byte value = (byte)'y';
        if (Libc.LSetXattr(directory, OverlayOpaqueXattr, &value, 1, 0) != 0)
        {
            throw new ImageException($"layer {layerName}: cannot mark {directory} opaque for overlayfs: {ErrnoException.Describe(Marshal.GetLastPInvokeError())}");
        }
    }

    private void ApplyOpaque(string directory, string relativeDirectory, HashSet<string> created)
    {
        if (new DirectoryInfo(directory) is not { LinkTarget: null, Exists: true })
        {
            return;
        }

        foreach (var child in Directory.EnumerateFileSystemEntries(directory))
        {
            var relative = (relativeDirectory.Length == 0 ? "" : relativeDirectory + "/") + Path.GetFileName(child);
            if (!created.Contains(relative) && !created.Any(c => c.StartsWith(relative + "/", StringComparison.Ordinal)))
            {
                Remove(child);
            }
        }
    }

    private void EnsureDirectory(string directory, List<string> components, HashSet<string> created)
    {
        if (Directory.Exists(directory))
        {
            return;
        }

        // Layers may omit parent entries; create them like containerd does (0755, root-owned).
        Directory.CreateDirectory(directory);
        for (var i = 1; i <= components.Count; i++)
        {
            created.Add(string.Join('/', components.Take(i)));
        }
    }

    /// <summary>Removes a file, link or whole directory; a symlink is removed itself, never what it points at.</summary>
    private static void Remove(string path)
    {
        var info = new FileInfo(path);
        if (info.LinkTarget is null && Directory.Exists(path))
        {
            Directory.Delete(path, recursive: true);
        }
        else if (info.Exists || info.LinkTarget is not null)
        {
            File.Delete(path);
        }
    }

    private bool MakeFifo(TarEntry entry, string target)
    {
        const uint fifo = 0x1000;
        if (Libc.MkNod(target, fifo | ((uint)entry.Mode & 0x1ff), 0) == 0)
        {
            return true;
        }

        if (_isRoot)
        {
            throw new ImageException($"cannot create FIFO {target}: {ErrnoException.Describe(Marshal.GetLastPInvokeError())}");
        }

        return false; // Unprivileged unpacking (tests, rootless) on a filesystem that refuses FIFOs.
    }

    private void SetOwnerModeTime(TarEntry entry, string target)
    {
        if (Libc.LChown(target, entry.Uid, entry.Gid) != 0 && _isRoot)
        {
            throw new ImageException($"cannot chown {target}: {ErrnoException.Describe(Marshal.GetLastPInvokeError())}");
        }

        // (The platform check only satisfies the analyzer: KataSharp runs on Linux alone.) The target was
        // created above and is no symlink, so chmod, which follows links, stays on it.
        if (entry.EntryType != TarEntryType.SymbolicLink && !OperatingSystem.IsWindows())
        {
            var mode = entry.Mode & (UnixFileMode)0xfff;
            if (entry.EntryType != TarEntryType.Directory && (mode & SetIdBits) != 0)
            {
                mode &= ~SetIdBits;
                _strippedSetId++;
            }

            File.SetUnixFileMode(target, mode);
        }

        if (entry.EntryType != TarEntryType.Directory)
        {
            SetTime(target, entry.ModificationTime);
        }
    }

    private static unsafe void SetTime(string path, DateTimeOffset time)
    {
        var seconds = time.ToUnixTimeSeconds();
        var times = stackalloc TimeSpec[2];
        times[0] = new TimeSpec { Seconds = seconds };
        times[1] = new TimeSpec { Seconds = seconds };
        Libc.UtimensAt(Linux.AT_FDCWD, path, times, Linux.AT_SYMLINK_NOFOLLOW);
    }
}

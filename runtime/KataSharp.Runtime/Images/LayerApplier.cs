using System.Formats.Tar;
using System.Runtime.InteropServices;
using KataSharp.Runtime.Interop;

namespace KataSharp.Runtime.Images;

/// <summary>
/// Applies one uncompressed layer tar onto a rootfs directory: creates files, directories, links and
/// device nodes with their owners, modes and times, and honours OCI whiteouts (<c>.wh.NAME</c> deletes
/// NAME from lower layers, <c>.wh..wh..opq</c> empties a directory of everything from lower layers).
/// </summary>
internal sealed class LayerApplier
{
    private const string WhiteoutPrefix = ".wh.";
    private const string OpaqueWhiteout = ".wh..wh..opq";

    private readonly string _root;
    private readonly bool _isRoot = Environment.IsPrivilegedProcess;

    public LayerApplier(string root) => _root = Path.GetFullPath(root);

    public void Apply(Stream layer, string layerName, CancellationToken cancellationToken)
    {
        // Paths this layer created: an opaque whiteout must not delete them.
        var created = new HashSet<string>(StringComparer.Ordinal);
        var directoryTimes = new List<(string Path, DateTimeOffset Time)>();
        using var reader = new TarReader(layer, leaveOpen: true);
        TarEntry? entry;
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

        // Creating children changed the directories' times; set them last, deepest first.
        foreach (var (path, time) in directoryTimes.OrderByDescending(d => d.Path.Length))
        {
            SetTime(path, time);
        }
    }

    private void ApplyEntry(TarEntry entry, string layerName, HashSet<string> created, List<(string, DateTimeOffset)> directoryTimes)
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

        if (baseName == OpaqueWhiteout)
        {
            ApplyOpaque(parent, string.Join('/', parentComponents), created);
            return;
        }

        if (baseName.StartsWith(WhiteoutPrefix, StringComparison.Ordinal))
        {
            var victim = Path.Combine(parent, baseName[WhiteoutPrefix.Length..]);
            Remove(victim);
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
                directoryTimes.Add((target, entry.ModificationTime));
                break;
            case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile:
                using (var file = new FileStream(target, FileMode.CreateNew, FileAccess.Write, FileShare.None))
                {
                    entry.DataStream?.CopyTo(file);
                }

                break;
            case TarEntryType.SymbolicLink:
                File.CreateSymbolicLink(target, entry.LinkName);
                break;
            case TarEntryType.HardLink:
                var linkTarget = ScopedPath.Resolve(_root, ScopedPath.Components(entry.LinkName, layerName), followFinal: false);
                if (LibC.Link(linkTarget, target) != 0)
                {
                    throw new ImageException($"layer {layerName}: cannot hard-link {relative} to {entry.LinkName}: {LibC.ErrorText(Marshal.GetLastPInvokeError())}");
                }

                created.Add(relative);
                return; // A hard link shares the target's inode: owner, mode and time are the target's.
            case TarEntryType.CharacterDevice or TarEntryType.BlockDevice or TarEntryType.Fifo:
                if (!MakeNode(entry, target))
                {
                    return; // Not root: device nodes cannot be made; the guest's /dev is a tmpfs anyway.
                }

                break;
            default:
                return; // Sparse and other exotic types do not appear in OCI layers.
        }

        created.Add(relative);
        SetOwnerModeTime(entry, target);
    }

    private void ApplyOpaque(string directory, string relativeDirectory, HashSet<string> created)
    {
        if (!Directory.Exists(directory))
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

    private bool MakeNode(TarEntry entry, string target)
    {
        uint type = entry.EntryType switch
        {
            TarEntryType.CharacterDevice => 0x2000,
            TarEntryType.BlockDevice => 0x6000,
            _ => 0x1000,
        };
        ulong device = 0;
        if (entry is PosixTarEntry posix && entry.EntryType != TarEntryType.Fifo)
        {
            // glibc's makedev encoding.
            ulong major = (ulong)posix.DeviceMajor, minor = (ulong)posix.DeviceMinor;
            device = ((major & 0xfffff000) << 32) | ((major & 0xfff) << 8) | ((minor & 0xffffff00) << 12) | (minor & 0xff);
        }

        if (LibC.MkNod(target, type | ((uint)entry.Mode & 0xfff), device) == 0)
        {
            return true;
        }

        if (_isRoot)
        {
            throw new ImageException($"cannot create device node {target}: {LibC.ErrorText(Marshal.GetLastPInvokeError())}");
        }

        return false;
    }

    private void SetOwnerModeTime(TarEntry entry, string target)
    {
        // chown first: it clears set-id bits, which the chmod below restores.
        if (LibC.LChown(target, entry.Uid, entry.Gid) != 0 && _isRoot)
        {
            throw new ImageException($"cannot chown {target}: {LibC.ErrorText(Marshal.GetLastPInvokeError())}");
        }

        // (The platform check only satisfies the analyzer: KataSharp runs on Linux alone.)
        if (entry.EntryType != TarEntryType.SymbolicLink && !OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(target, (UnixFileMode)((int)entry.Mode & 0xfff));
        }

        if (entry.EntryType != TarEntryType.Directory)
        {
            SetTime(target, entry.ModificationTime);
        }
    }

    private static unsafe void SetTime(string path, DateTimeOffset time)
    {
        var seconds = time.ToUnixTimeSeconds();
        var times = stackalloc LibC.TimeSpec[2];
        times[0] = new LibC.TimeSpec { Seconds = seconds };
        times[1] = new LibC.TimeSpec { Seconds = seconds };
        LibC.UtimensAt(LibC.AT_FDCWD, path, times, LibC.AT_SYMLINK_NOFOLLOW);
    }
}

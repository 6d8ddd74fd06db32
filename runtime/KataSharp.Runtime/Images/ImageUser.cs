using System.Globalization;
using KataSharp.Native;
using KataSharp.Native.Files;

namespace KataSharp.Runtime.Images;

/// <summary>A process identity: uid, gid and supplementary groups.</summary>
public sealed record ProcessUser(uint Uid, uint Gid, IReadOnlyList<uint> AdditionalGids)
{
    public static readonly ProcessUser Root = new(0, 0, []);
}

/// <summary>
/// Resolves an image's or the user's <c>USER</c> ("name", "uid", "name:group", "uid:gid") against the
/// rootfs's /etc/passwd and /etc/group, as runc and containerd do before a container starts.
/// </summary>
public static class ImageUser
{
    private const int MaxTableBytes = 1024 * 1024;

    /// <exception cref="ImageException">A name that the rootfs does not define.</exception>
    public static ProcessUser Resolve(string rootfs, string user)
    {
        if (string.IsNullOrWhiteSpace(user))
        {
            return ProcessUser.Root;
        }

        var parts = user.Split(':', 2);
        var passwd = ReadTable(rootfs, "passwd");
        var groups = ReadTable(rootfs, "group");

        uint uid;
        uint? gid = null;
        string? userName = null;
        if (uint.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var numericUid))
        {
            uid = numericUid;
            var entry = passwd.FirstOrDefault(p => p.Length > 3 && p[2] == parts[0]);
            if (entry is not null)
            {
                userName = entry[0];
                gid = ParseId(entry[3]);
            }
        }
        else
        {
            var entry = passwd.FirstOrDefault(p => p.Length > 3 && p[0] == parts[0])
                ?? throw new ImageException($"user '{parts[0]}' is not in the image's /etc/passwd");
            userName = entry[0];
            uid = ParseId(entry[2]) ?? throw new ImageException($"/etc/passwd has a bad uid for '{parts[0]}'");
            gid = ParseId(entry[3]);
        }

        if (parts.Length == 2)
        {
            gid = uint.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var numericGid)
                ? numericGid
                : ParseId(groups.FirstOrDefault(g => g.Length > 2 && g[0] == parts[1])?[2] ?? "")
                  ?? throw new ImageException($"group '{parts[1]}' is not in the image's /etc/group");
        }

        var additional = userName is null
            ? []
            : groups.Where(g => g.Length > 3 && g[3].Split(',').Contains(userName))
                .Select(g => ParseId(g[2])).OfType<uint>().Where(g => g != (gid ?? 0)).Distinct().ToList();
        return new ProcessUser(uid, gid ?? 0, additional);
    }

    private static uint? ParseId(string text) =>
        uint.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var id) ? id : null;

    /// <summary>
    /// Reads /etc/NAME as the container would see it: symlinks in the rootfs are resolved inside it, so a link
    /// to /etc/passwd reads the image's file, never the host's. The resolved path is then opened beneath the
    /// root with no symlink allowed, so a link swapped in meanwhile is refused rather than followed.
    /// </summary>
    private static List<string[]> ReadTable(string rootfs, string name)
    {
        var root = Path.GetFullPath(rootfs);
        var path = ScopedPath.Resolve(root, ["etc", name], followFinal: true);

        // Length 0 also covers FIFOs and device nodes, which are never opened: reading one would block or touch a device.
        var info = new FileInfo(path);
        if (!info.Exists || info.LinkTarget is not null || info.Length is 0 or > MaxTableBytes)
        {
            return [];
        }

        try
        {
            using var rootFd = SafePath.OpenRoot(root);
            using var fd = SafePath.OpenBeneath(rootFd, Path.GetRelativePath(root, path), Linux.O_RDONLY | Linux.O_NONBLOCK);
            using var stream = fd.ToFileStream(FileAccess.Read);
            using var reader = new StreamReader(stream);

            // Bounded again: the file may have grown since it was measured.
            var text = new char[MaxTableBytes];
            var length = reader.ReadBlock(text);
            return new string(text, 0, length).Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0 && l[0] != '#').Select(l => l.Split(':')).ToList();
        }
        catch (ErrnoException e) when (e.Errno == Linux.ENOENT)
        {
            return [];
        }
        catch (IOException e)
        {
            throw new ImageException($"cannot read /etc/{name} of the rootfs {rootfs}: {e.Message}", e);
        }
    }
}

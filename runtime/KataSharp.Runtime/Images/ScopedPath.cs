namespace KataSharp.Runtime.Images;

/// <summary>
/// Resolves a path inside a root directory the way the container will see it: symlinks are
/// followed, but an absolute link target means the root, and ".." never climbs above the root.
/// A malicious layer cannot make the unpacker write outside the rootfs (cf. filepath-securejoin).
/// </summary>
/// <remarks>
/// Each component is examined with readlink (lstat semantics), never stat, so nothing outside the root
/// is ever looked at; the path returned has no symlink in any component but (with followFinal false)
/// the last. That is race-free only while nobody else writes under the root: true while an image is
/// unpacked, and while the rootfs is read before any container process runs.
/// </remarks>
internal static class ScopedPath
{
    /// <summary>Symlinks expanded in one resolution; the kernel allows 40, but a deep rootfs may nest more.</summary>
    public const int MaxLinks = 255;

    /// <summary>Splits an archive path into clean components, refusing "..".</summary>
    public static List<string> Components(string name, string what)
    {
        var components = new List<string>();
        foreach (var part in name.Replace('\\', '/').Split('/'))
        {
            if (part.Length == 0 || part == ".")
            {
                continue;
            }

            if (part == "..")
            {
                throw new ImageException($"{what}: path '{name}' climbs out with '..'");
            }

            if (part.Contains('\0', StringComparison.Ordinal))
            {
                throw new ImageException($"{what}: path contains a NUL character");
            }

            components.Add(part);
        }

        return components;
    }

    /// <summary>The host path for <paramref name="components"/> under <paramref name="root"/>, following symlinks within the root.</summary>
    /// <param name="followFinal">Whether a symlink in the last component is followed too.</param>
    /// <exception cref="ImageException">More than <see cref="MaxLinks"/> symlinks (a loop).</exception>
    public static string Resolve(string root, IReadOnlyList<string> components, bool followFinal)
    {
        var resolved = new List<string>();
        var pending = new LinkedList<string>(components);
        var links = 0;
        while (pending.First is { } node)
        {
            pending.RemoveFirst();
            var part = node.Value;
            if (part.Length == 0 || part == ".")
            {
                continue;
            }

            if (part == "..")
            {
                if (resolved.Count > 0)
                {
                    resolved.RemoveAt(resolved.Count - 1);
                }

                continue;
            }

            if (pending.Count == 0 && !followFinal)
            {
                resolved.Add(part);
                continue;
            }

            // readlink only: a missing or non-link component is taken as it is, and nothing is stat()ed through a link.
            if (new FileInfo(Join(root, resolved, part)).LinkTarget is not { } target)
            {
                resolved.Add(part);
                continue;
            }

            if (++links > MaxLinks)
            {
                throw new ImageException($"too many levels of symbolic links resolving {string.Join('/', components)}");
            }

            if (target.StartsWith('/'))
            {
                resolved.Clear();
            }

            var targetParts = target.Split('/');
            for (var i = targetParts.Length - 1; i >= 0; i--)
            {
                pending.AddFirst(targetParts[i]);
            }
        }

        return Join(root, resolved, null);
    }

    /// <summary>
    /// The host path of <paramref name="components"/> if every one of them is a real directory, not a symlink;
    /// otherwise null. For touching a directory again after later entries may have replaced a component with a link.
    /// </summary>
    public static string? PlainDirectory(string root, IReadOnlyList<string> components)
    {
        var path = root;
        foreach (var part in components)
        {
            path = Path.Combine(path, part);
            var info = new DirectoryInfo(path);
            if (info.LinkTarget is not null || !info.Exists)
            {
                return null;
            }
        }

        return path;
    }

    private static string Join(string root, List<string> parts, string? extra)
    {
        var all = extra is null ? parts : [.. parts, extra];
        return all.Count == 0 ? root : Path.Combine(root, string.Join('/', all));
    }
}

namespace KataSharp.Runtime.Images;

/// <summary>
/// Resolves a path inside a root directory the way the container will see it: symlinks are
/// followed, but an absolute link target means the root, and ".." never climbs above the root.
/// A malicious layer cannot make the unpacker write outside the rootfs (cf. filepath-securejoin).
/// </summary>
internal static class ScopedPath
{
    private const int MaxLinks = 255;

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

            var isFinal = pending.Count == 0;
            var candidate = Join(root, resolved, part);
            if (isFinal && !followFinal)
            {
                resolved.Add(part);
                continue;
            }

            var info = new FileInfo(candidate);
            if (info.Exists || Directory.Exists(candidate) || info.LinkTarget is not null)
            {
                if (info.LinkTarget is { } target)
                {
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

                    continue;
                }
            }

            resolved.Add(part);
        }

        return Join(root, resolved, null);
    }

    private static string Join(string root, List<string> parts, string? extra)
    {
        var all = extra is null ? parts : [.. parts, extra];
        return all.Count == 0 ? root : Path.Combine(root, string.Join('/', all));
    }
}

namespace KataSharp.Runtime.Images;

/// <summary>
/// Layer entries for host files and directory trees added to a built image (the deploy image's payload
/// and the C library its binaries need), with every parent directory, in host file modes.
/// </summary>
public static class HostFileEntries
{
    /// <summary>
    /// Merges <paramref name="additions"/> (SOURCE=DEST, DEST relative to the image root) into
    /// <paramref name="entries"/>: an added path replaces one already there; parents come in once.
    /// </summary>
    public static List<LayerEntry> Merge(IEnumerable<LayerEntry> entries, IEnumerable<string> additions)
    {
        var byPath = entries.ToDictionary(e => e.Path, StringComparer.Ordinal);
        foreach (var addition in additions)
        {
            var equals = addition.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0 || equals == addition.Length - 1)
            {
                throw new ImageException($"'{addition}' is not SOURCE=DEST");
            }

            var source = addition[..equals];
            var destination = addition[(equals + 1)..].Trim('/');
            if (destination.Split('/').Any(p => p is "" or "." or ".."))
            {
                throw new ImageException($"'{destination}' is not a plain path inside the image");
            }

            var parts = destination.Split('/');
            for (var i = 1; i < parts.Length; i++)
            {
                var parent = string.Join('/', parts[..i]);
                byPath.TryAdd(parent, LayerEntry.Dir(parent));
            }

            foreach (var entry in Walk(source, destination))
            {
                byPath[entry.Path] = entry;
            }
        }

        return [.. byPath.Values];
    }

    private static IEnumerable<LayerEntry> Walk(string source, string destination)
    {
        var info = new FileInfo(source);
        if (info.LinkTarget is { } target && !Directory.Exists(source))
        {
            // A library's soname link: the file it names is what the loader needs.
            yield return LayerEntry.Copy(destination, info.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? target, File.GetUnixFileMode(source));
            yield break;
        }

        if (File.Exists(source))
        {
            yield return LayerEntry.Copy(destination, source, File.GetUnixFileMode(source));
            yield break;
        }

        if (!Directory.Exists(source))
        {
            throw new ImageException($"{source} does not exist");
        }

        yield return LayerEntry.Dir(destination, File.GetUnixFileMode(source));
        foreach (var child in Directory.EnumerateFileSystemEntries(source).Order(StringComparer.Ordinal))
        {
            foreach (var entry in Walk(child, $"{destination}/{Path.GetFileName(child)}"))
            {
                yield return entry;
            }
        }
    }
}

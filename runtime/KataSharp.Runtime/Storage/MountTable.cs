using System.Text;

namespace KataSharp.Runtime.Storage;

/// <summary>Reads the mount points of this process's mount namespace from /proc/self/mountinfo.</summary>
internal static class MountTable
{
    public static IReadOnlyList<string> MountPoints(string mountInfoPath = "/proc/self/mountinfo")
    {
        var points = new List<string>();
        foreach (var line in File.ReadLines(mountInfoPath))
        {
            // "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw": field 5 is the mount point.
            var fields = line.Split(' ');
            if (fields.Length > 4)
            {
                points.Add(Unescape(fields[4]));
            }
        }

        return points;
    }

    /// <summary>The lower directories of every overlay mount: the image layers jobs are using.</summary>
    public static IReadOnlySet<string> OverlayLowers(string mountInfoPath = "/proc/self/mountinfo")
    {
        var lowers = new HashSet<string>(StringComparer.Ordinal);
        foreach (var line in File.ReadLines(mountInfoPath))
        {
            // "... - overlay overlay rw,lowerdir=/a:/b,upperdir=...": the super options follow the type and the source.
            var separator = line.IndexOf(" - ", StringComparison.Ordinal);
            var tail = separator < 0 ? [] : line[(separator + 3)..].Split(' ');
            if (tail.Length < 3 || tail[0] != "overlay")
            {
                continue;
            }

            foreach (var option in tail[2].Split(','))
            {
                if (option.StartsWith("lowerdir=", StringComparison.Ordinal))
                {
                    lowers.UnionWith(option["lowerdir=".Length..].Split(':').Select(Unescape));
                }
            }
        }

        return lowers;
    }

    public static bool IsMountPoint(string path)
    {
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
        return MountPoints().Contains(full, StringComparer.Ordinal);
    }

    /// <summary>The mount points at or under <paramref name="directory"/>, deepest first (the order to unmount them in).</summary>
    public static IReadOnlyList<string> MountPointsUnder(string directory, IEnumerable<string> mountPoints)
    {
        var root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory));
        return mountPoints
            .Where(p => p == root || p.StartsWith(root + "/", StringComparison.Ordinal))
            .Distinct()
            .OrderByDescending(p => p.Count(c => c == '/'))
            .ThenByDescending(p => p, StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>mountinfo escapes space, tab, newline and backslash as \ooo octal.</summary>
    internal static string Unescape(string field)
    {
        if (!field.Contains('\\', StringComparison.Ordinal))
        {
            return field;
        }

        var bytes = new List<byte>();
        for (var i = 0; i < field.Length; i++)
        {
            if (field[i] == '\\' && IsOctal(field, i + 1))
            {
                bytes.Add((byte)Convert.ToInt32(field.Substring(i + 1, 3), 8));
                i += 3;
            }
            else
            {
                bytes.AddRange(Encoding.UTF8.GetBytes(field[i].ToString()));
            }
        }

        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    private static bool IsOctal(string s, int start) =>
        start + 3 <= s.Length && s.Substring(start, 3).All(c => c is >= '0' and <= '7');
}

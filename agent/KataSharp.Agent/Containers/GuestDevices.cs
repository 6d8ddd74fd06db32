using System.Globalization;

namespace KataSharp.Agent.Containers;

/// <summary>A device node of the guest kernel, as an OCI <c>linux.devices</c> entry describes it.</summary>
/// <param name="Path">Where devtmpfs puts it, e.g. /dev/vda.</param>
/// <param name="Type"><c>c</c> or <c>b</c>.</param>
/// <param name="FileMode">The permission bits devtmpfs gives it.</param>
internal sealed record GuestDevice(string Path, char Type, long Major, long Minor, int FileMode);

/// <summary>
/// Every device the guest kernel has, read from /sys/dev/{char,block}/MAJOR:MINOR/uevent (DEVNAME, DEVMODE), the
/// same table devtmpfs builds /dev from. A privileged container gets these, never the host's.
/// </summary>
internal static class GuestDevices
{
    /// <summary>devtmpfs's mode for a node whose uevent names none.</summary>
    private const int DefaultMode = 0b110_000_000;

    /// <summary>Nodes a container gets elsewhere: its pseudo-terminals, and the console its runtime sets up.</summary>
    private static readonly string[] NotCopied = ["/dev/console", "/dev/pts/", "/dev/ptmx"];

    public static IReadOnlyList<GuestDevice> Read(string sysDev = "/sys/dev")
    {
        var devices = new List<GuestDevice>();
        foreach (var (kind, type) in new[] { ("char", 'c'), ("block", 'b') })
        {
            var dir = System.IO.Path.Combine(sysDev, kind);
            if (!Directory.Exists(dir))
            {
                continue;
            }

            foreach (var entry in Directory.EnumerateFileSystemEntries(dir))
            {
                string uevent;
                try
                {
                    uevent = File.ReadAllText(System.IO.Path.Combine(entry, "uevent"));
                }
                catch (IOException)
                {
                    continue; // a device that went away while we looked
                }

                if (Parse(System.IO.Path.GetFileName(entry), type, uevent) is { } device)
                {
                    devices.Add(device);
                }
            }
        }

        return devices.OrderBy(d => d.Path, StringComparer.Ordinal).ToList();
    }

    /// <param name="majorMinor">The /sys/dev entry's name, <c>MAJOR:MINOR</c>.</param>
    /// <returns>Null for a device without a node (no DEVNAME) or one a container gets otherwise.</returns>
    internal static GuestDevice? Parse(string majorMinor, char type, string uevent)
    {
        var numbers = majorMinor.Split(':');
        if (numbers.Length != 2
            || !long.TryParse(numbers[0], NumberStyles.None, CultureInfo.InvariantCulture, out var major)
            || !long.TryParse(numbers[1], NumberStyles.None, CultureInfo.InvariantCulture, out var minor))
        {
            return null;
        }

        var fields = uevent.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split('=', 2))
            .Where(kv => kv.Length == 2)
            .GroupBy(kv => kv[0], StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.First()[1], StringComparer.Ordinal);
        if (!fields.TryGetValue("DEVNAME", out var name) || name.Length == 0 || name.Split('/').Contains(".."))
        {
            return null;
        }

        var path = "/dev/" + name.TrimStart('/');
        if (NotCopied.Any(n => n.EndsWith('/') ? path.StartsWith(n, StringComparison.Ordinal) : path == n))
        {
            return null;
        }

        var mode = fields.TryGetValue("DEVMODE", out var devMode) && TryParseOctal(devMode, out var parsed) ? parsed : DefaultMode;
        return new GuestDevice(path, type, major, minor, mode);
    }

    private static bool TryParseOctal(string text, out int value)
    {
        value = 0;
        if (text.Length == 0 || text.Length > 6)
        {
            return false;
        }

        foreach (var c in text)
        {
            if (c is < '0' or > '7')
            {
                return false;
            }

            value = (value * 8) + (c - '0');
        }

        return true;
    }
}

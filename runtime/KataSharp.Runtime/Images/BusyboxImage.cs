using System.Globalization;
using KataSharp.Runtime.HostTools;

namespace KataSharp.Runtime.Images;

/// <summary>
/// The default image for <c>katasharp run</c>: Debian's static busybox with its applet links, a
/// passwd and group file, and the usual empty directories. Built deterministically, so the same
/// busybox gives the same archive and digests.
/// </summary>
public static class BusyboxImage
{
    public const string DefaultReference = "docker.io/katasharp/busybox:latest";
    public const string DefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    private const UnixFileMode Dir755 = (UnixFileMode)0b111_101_101;
    private const UnixFileMode Exec755 = (UnixFileMode)0b111_101_101;
    private static readonly TimeSpan ListTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Builds the archive at <paramref name="outputPath"/>. The timestamp is $SOURCE_DATE_EPOCH, or the epoch.</summary>
    public static async Task BuildAsync(string busyboxPath, string outputPath, string reference, CancellationToken cancellationToken) =>
        await BuildAsync(busyboxPath, outputPath, reference, ["sh"], cancellationToken).ConfigureAwait(false);

    /// <summary>Builds the archive with <paramref name="cmd"/> as the image's command (a pause image sleeps).</summary>
    public static async Task BuildAsync(string busyboxPath, string outputPath, string reference, IReadOnlyList<string> cmd, CancellationToken cancellationToken) =>
        await BuildAsync(busyboxPath, outputPath, reference, cmd, [], null, cancellationToken).ConfigureAwait(false);

    /// <summary>Builds the archive with host files added (SOURCE=DEST, see <see cref="HostFileEntries"/>) and an entrypoint.</summary>
    public static async Task BuildAsync(string busyboxPath, string outputPath, string reference, IReadOnlyList<string> cmd,
        IReadOnlyList<string> additions, IReadOnlyList<string>? entrypoint, CancellationToken cancellationToken)
    {
        if (!File.Exists(busyboxPath))
        {
            throw new ImageException($"busybox not found at {busyboxPath} (apt-get install busybox-static)");
        }

        var applets = await ListAppletsAsync(busyboxPath, cancellationToken).ConfigureAwait(false);
        var timestamp = Environment.GetEnvironmentVariable("SOURCE_DATE_EPOCH") is { Length: > 0 } epoch
            && long.TryParse(epoch, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
            ? DateTimeOffset.FromUnixTimeSeconds(seconds)
            : DateTimeOffset.UnixEpoch;
        OciArchiveWriter.Write(outputPath, HostFileEntries.Merge(Entries(busyboxPath, applets), additions), new ImageConfigSpec([DefaultPath], [.. cmd], entrypoint), reference, timestamp);
    }

    internal static List<LayerEntry> Entries(string busyboxPath, IEnumerable<string> applets)
    {
        var entries = new List<LayerEntry>
        {
            LayerEntry.Dir("bin"), LayerEntry.Dir("dev"), LayerEntry.Dir("etc"), LayerEntry.Dir("home"),
            LayerEntry.Dir("proc"), LayerEntry.Dir("root", (UnixFileMode)0b111_000_000), LayerEntry.Dir("run"),
            LayerEntry.Dir("sbin"), LayerEntry.Dir("sys"), LayerEntry.Dir("usr"), LayerEntry.Dir("usr/bin"),
            LayerEntry.Dir("usr/sbin"), LayerEntry.Dir("var"),
            // Sticky, world-writable scratch directories.
            LayerEntry.Dir("tmp", (UnixFileMode)0b1_111_111_111), LayerEntry.Dir("var/tmp", (UnixFileMode)0b1_111_111_111),
            LayerEntry.Copy("bin/busybox", busyboxPath, Exec755),
            // "app" is a non-root user with supplementary groups, for runAsUsername and groups from the image.
            LayerEntry.Text("etc/passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"),
            LayerEntry.Text("etc/group", "root:x:0:\nwheel:x:10:app\naudio:x:29:app,nobody\napp:x:1000:\nnogroup:x:65534:\n"),
        };
        var taken = entries.Select(e => e.Path).ToHashSet(StringComparer.Ordinal);
        foreach (var applet in applets)
        {
            var path = applet.Trim().TrimStart('/');
            if (path.Length == 0 || !path.Contains('/', StringComparison.Ordinal) || !taken.Add(path))
            {
                continue; // "linuxrc" and the like sit at the root; the image has no use for them.
            }

            entries.Add(LayerEntry.Symlink(path, "/bin/busybox"));
        }

        return entries;
    }

    private static async Task<List<string>> ListAppletsAsync(string busyboxPath, CancellationToken cancellationToken)
    {
        HostProcessResult result;
        try
        {
            result = await HostProcess.RunAsync(busyboxPath, ["--list-full"], ListTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or TimeoutException)
        {
            throw new ImageException($"cannot run {busyboxPath} --list-full: {e.Message}", e);
        }

        if (result.ExitCode != 0)
        {
            throw new ImageException($"{busyboxPath} --list-full failed with exit code {result.ExitCode}");
        }

        // A cut list would end in a half applet name and leave the image short of applets.
        if (result.Stdout.Truncated)
        {
            throw new ImageException($"{busyboxPath} --list-full printed more than {result.Stdout.Limit} bytes; that is no applet list");
        }

        return result.Stdout.Text().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Order(StringComparer.Ordinal).ToList();
    }
}

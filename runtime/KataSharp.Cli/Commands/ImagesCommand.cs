using System.Globalization;
using KataSharp.Runtime.Images;
using KataSharp.Runtime.Images.Cache;

namespace KataSharp.Cli.Commands;

/// <summary><c>katasharp images</c>: lists the image cache.</summary>
internal static class ImagesCommand
{
    public static readonly CommandSyntax Syntax = new()
    {
        Name = "images",
        Summary = "List the image cache",
        Description = """
            List the images in the cache (under the state directory): reference, platform, manifest digest,
            compressed size, and when a job last used it.
            """,
    };

    public static int Execute(GlobalOptions global, IReadOnlyList<string> args)
    {
        var reader = Syntax.Parse(args);
        if (Syntax.PrintedHelp(reader))
        {
            return 0;
        }

        if (reader.Positionals.Count > 0)
        {
            throw new UsageException("images takes no arguments");
        }

        using var context = CliContext.Create(global, reader);
        var records = ImageRecords.Load(ImageCachePaths.For(context.Config.Images));
        var rows = records.OrderByDescending(r => r.LastUsed).Select(r => new[]
        {
            r.Reference, r.Platform, ContentDigest.TryParse(r.ManifestDigest, out var d) ? d!.Short : r.ManifestDigest,
            (r.Size / 1048576.0).ToString("0.0", CultureInfo.InvariantCulture) + " MiB",
            r.LastUsed.ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),
        }).Prepend(["REFERENCE", "PLATFORM", "DIGEST", "SIZE", "LAST USED"]).ToList();
        var widths = Enumerable.Range(0, 5).Select(i => rows.Max(r => r[i].Length)).ToArray();
        foreach (var row in rows)
        {
            System.Console.WriteLine(string.Join("  ", row.Select((cell, i) => i == row.Length - 1 ? cell : cell.PadRight(widths[i]))));
        }

        return 0;
    }
}

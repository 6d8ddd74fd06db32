using System.Globalization;
using KataSharp.Runtime.Images.Cache;

namespace KataSharp.Cli.Commands;

/// <summary><c>katasharp prune</c>: cleans the image cache, never touching a layer a running job has mounted.</summary>
internal static class PruneCommand
{
    public static readonly CommandSyntax Syntax = new()
    {
        Name = "prune",
        Summary = "Clean the image cache",
        Description = """
            Remove from the image cache what no image refers to (and what interrupted pulls left).
            Layers mounted by a running job are always kept.
            """,
        Options = [CliOption.Flag("all", "also remove every image no running job uses")],
    };

    public static async Task<int> ExecuteAsync(GlobalOptions global, IReadOnlyList<string> args, CancellationToken shutdown)
    {
        var reader = Syntax.Parse(args);
        if (Syntax.PrintedHelp(reader))
        {
            return 0;
        }

        if (reader.Positionals.Count > 0)
        {
            throw new UsageException("prune takes no arguments");
        }

        using var context = CliContext.Create(global, reader);
        var report = await new ImagePruner(ImageCachePaths.For(context.Config.Images)).PruneAsync(reader.Has("all"), shutdown).ConfigureAwait(false);
        System.Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"removed {report.Images} images, {report.Blobs} blobs ({report.BlobBytes / 1048576.0:0.0} MiB), {report.Layers} layers"));
        return 0;
    }
}

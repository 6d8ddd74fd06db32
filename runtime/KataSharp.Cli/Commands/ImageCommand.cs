using KataSharp.Runtime.Images;

namespace KataSharp.Cli.Commands;

/// <summary>
/// <c>katasharp image build-busybox</c> (internal; build.sh calls it): writes the default image,
/// an OCI archive of Debian's static busybox, deterministically.
/// </summary>
internal static class ImageCommand
{
    public static readonly CommandSyntax Syntax = new()
    {
        Name = "image",
        Summary = "Build the default busybox image (for ./build.sh)",
        Arguments = "build-busybox [OPTIONS] --out FILE",
        Description = "Build the default busybox OCI archive (for ./build.sh).",
        TakesCommonOptions = false,
        Options =
        [
            CliOption.Value("busybox", "PATH", "a static busybox (default: /bin/busybox, from busybox-static)"),
            CliOption.Value("out", "FILE", "the OCI archive to write"),
            CliOption.Value("ref", "NAME", "image name (default: docker.io/katasharp/busybox:latest)"),
            CliOption.Value("cmd", "\"ARGS\"", "the image's command, split at spaces (default: sh)"),
            CliOption.Value("entrypoint", "\"ARGS\"", "the image's entrypoint, split at spaces (default: none)"),
            CliOption.Value("add", "SRC=DEST", "add a host file or directory tree at DEST in the image (repeatable)"),
        ],
    };

    public static async Task<int> ExecuteAsync(IReadOnlyList<string> args, CancellationToken cancellationToken)
    {
        var reader = Syntax.Parse(args);
        if (Syntax.PrintedHelp(reader))
        {
            return 0;
        }

        if (reader.Positionals is not ["build-busybox"])
        {
            throw new UsageException(reader.Positionals.Count == 0 ? "image: give the subcommand: build-busybox" : $"image: unknown subcommand '{string.Join(' ', reader.Positionals)}'");
        }

        var output = reader.Get("out") ?? throw new UsageException("image build-busybox: --out FILE is required");
        await BusyboxImage.BuildAsync(reader.Get("busybox") ?? "/bin/busybox", output, reader.Get("ref") ?? BusyboxImage.DefaultReference,
            (reader.Get("cmd") ?? "sh").Split(' ', StringSplitOptions.RemoveEmptyEntries), reader.GetAll("add"),
            reader.Get("entrypoint")?.Split(' ', StringSplitOptions.RemoveEmptyEntries), cancellationToken).ConfigureAwait(false);
        System.Console.WriteLine(output);
        return 0;
    }
}

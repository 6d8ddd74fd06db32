using KataSharp.Runtime.Images;

namespace KataSharp.Cli.Commands;

/// <summary>
/// <c>katasharp image build-busybox</c> (internal; build.sh calls it): writes the default image,
/// an OCI archive of Debian's static busybox, deterministically.
/// </summary>
internal static class ImageCommand
{
    private const string Usage = """
        Usage: katasharp image build-busybox [--busybox PATH] --out FILE [--ref NAME] [--cmd "ARGS"] [--entrypoint "ARGS"] [--add SRC=DEST]...

        Build the default busybox OCI archive (for ./build.sh).

          --busybox PATH   a static busybox (default: /bin/busybox, from busybox-static)
          --out FILE       the OCI archive to write
          --ref NAME       image name (default: docker.io/katasharp/busybox:latest)
          --cmd "ARGS"     the image's command, split at spaces (default: sh)
          --entrypoint "ARGS"  the image's entrypoint, split at spaces (default: none)
          --add SRC=DEST   add a host file or directory tree at DEST in the image (repeatable)
        """;

    public static async Task<int> ExecuteAsync(IReadOnlyList<string> args, CancellationToken cancellationToken)
    {
        if (args.Count == 0 || args[0] is "--help" or "-h")
        {
            System.Console.WriteLine(Usage);
            return args.Count == 0 ? Program.RuntimeError : 0;
        }

        if (args[0] != "build-busybox")
        {
            throw new UsageException($"image: unknown subcommand '{args[0]}'");
        }

        var reader = new ArgReader("image build-busybox").Value("busybox").Value("out").Value("ref").Value("cmd").Value("entrypoint").Value("add").Flag("help", 'h').Parse(args.Skip(1).ToList());
        if (reader.Has("help"))
        {
            System.Console.WriteLine(Usage);
            return 0;
        }

        var output = reader.Get("out") ?? throw new UsageException("image build-busybox: --out FILE is required");
        await BusyboxImage.BuildAsync(reader.Get("busybox") ?? "/bin/busybox", output, reader.Get("ref") ?? BusyboxImage.DefaultReference,
            (reader.Get("cmd") ?? "sh").Split(' ', StringSplitOptions.RemoveEmptyEntries), reader.GetAll("add"),
            reader.Get("entrypoint")?.Split(' ', StringSplitOptions.RemoveEmptyEntries), cancellationToken).ConfigureAwait(false);
        System.Console.WriteLine(output);
        return 0;
    }
}

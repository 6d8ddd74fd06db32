using KataSharp.Runtime.Sandbox;

namespace KataSharp.Cli.Commands;

/// <summary><c>katasharp rm [-f] ID...</c>: stops sandbox VMs and removes everything they left.</summary>
internal static class RmCommand
{
    private const string Usage = """
        Usage: katasharp rm [-f] ID [ID...]

        Remove sandboxes: stop the VM, unmount the shared files, delete the state directory.

        Options:
          -f, --force   remove even if the container is still running
        """;

    public static async Task<int> ExecuteAsync(GlobalOptions global, IReadOnlyList<string> args, CancellationToken shutdown)
    {
        var reader = CliContext.WithCommonOptions(new ArgReader("rm")).Flag("force", 'f').Parse(args);
        if (reader.Has("help"))
        {
            System.Console.WriteLine(Usage);
            return 0;
        }

        if (reader.Positionals.Count == 0)
        {
            throw new UsageException("rm: give at least one sandbox ID");
        }

        using var context = CliContext.Create(global, reader);
        var failed = false;
        foreach (var id in reader.Positionals)
        {
            try
            {
                await context.Manager.RemoveAsync(id, reader.Has("force"), shutdown).ConfigureAwait(false);
                System.Console.WriteLine(id);
            }
            catch (SandboxException e)
            {
                System.Console.Error.WriteLine($"katasharp: rm {id}: {e.Message}");
                failed = true;
            }
        }

        return failed ? 1 : 0;
    }
}

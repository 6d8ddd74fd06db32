using KataSharp.Runtime.Sandbox;

namespace KataSharp.Cli.Commands;

/// <summary><c>katasharp rm [-f] ID...</c>: stops sandbox VMs and removes everything they left.</summary>
internal static class RmCommand
{
    public static readonly CommandSyntax Syntax = new()
    {
        Name = "rm",
        Summary = "Remove sandboxes",
        Arguments = "[OPTIONS] ID [ID...]",
        Description = "Remove sandboxes: stop the VM, unmount the shared files, delete the state directory.",
        Options = [CliOption.Flag("force", "remove even if the container is still running", 'f')],
    };

    public static async Task<int> ExecuteAsync(GlobalOptions global, IReadOnlyList<string> args, CancellationToken shutdown)
    {
        var reader = Syntax.Parse(args);
        if (Syntax.PrintedHelp(reader))
        {
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

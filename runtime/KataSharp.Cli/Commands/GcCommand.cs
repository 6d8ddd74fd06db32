using KataSharp.Runtime.Sandbox;

namespace KataSharp.Cli.Commands;

/// <summary><c>katasharp gc</c>: removes what crashed sandboxes left behind, never a live one.</summary>
internal static class GcCommand
{
    public static readonly CommandSyntax Syntax = new()
    {
        Name = "gc",
        Summary = "Remove what crashed sandboxes left behind",
        Description = """
            Remove stale sandboxes: those whose owner (a shim, a katasharp run) is gone and whose VM
            is not running. Their directories, mounts, taps, network namespaces and NAT rules go.
            A sandbox that is running, kept (run -d) or being created is left alone. Prints the ids
            it removed.
            """,
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
            throw new UsageException("gc takes no arguments");
        }

        using var context = CliContext.Create(global, reader);
        var report = await new SandboxGarbageCollector(context.Manager, context.Logger).CollectAsync(shutdown).ConfigureAwait(false);
        foreach (var id in report.Removed)
        {
            System.Console.WriteLine(id);
        }

        foreach (var id in report.Failed)
        {
            System.Console.Error.WriteLine($"katasharp: gc: {id} could not be removed (see the warning above); run gc again to retry");
        }

        return report.Failed.Count > 0 ? 1 : 0;
    }
}

using System.Globalization;

namespace KataSharp.Cli.Commands;

/// <summary><c>katasharp ps [ID]</c>: lists sandboxes, or the processes in one.</summary>
internal static class PsCommand
{
    public static readonly CommandSyntax Syntax = new()
    {
        Name = "ps",
        Summary = "List sandboxes, or the processes of one",
        Arguments = "[OPTIONS] [ID]",
        Description = "Without ID, list the sandboxes on this host. With ID, list the processes in that sandbox's container.",
        Options =
        [
            CliOption.Flag("quiet", "print only sandbox ids", 'q'),
            CliOption.Value("container", "CID", "with ID: the container whose processes to list (default: ID)"),
        ],
    };

    public static async Task<int> ExecuteAsync(GlobalOptions global, IReadOnlyList<string> args, CancellationToken shutdown)
    {
        var reader = Syntax.Parse(args);
        if (Syntax.PrintedHelp(reader))
        {
            return 0;
        }

        using var context = CliContext.Create(global, reader);
        if (reader.Positionals.Count > 1)
        {
            throw new UsageException("ps: at most one sandbox ID");
        }

        if (reader.Positionals.Count == 1)
        {
            var id = reader.Positionals[0];
            await using var sandbox = await context.Manager.OpenAsync(id, shutdown).ConfigureAwait(false);
            var processes = await sandbox.Agent.ListProcessesAsync(reader.Get("container") ?? id, shutdown).ConfigureAwait(false);
            System.Console.WriteLine($"{"PID",-8} {"EXEC",-20} COMMAND");
            foreach (var p in processes)
            {
                System.Console.WriteLine($"{p.Pid,-8} {(p.ExecId.Length == 0 ? "-" : p.ExecId),-20} {p.Command}");
            }

            return 0;
        }

        var listings = context.Manager.List();
        if (reader.Has("quiet"))
        {
            foreach (var listing in listings)
            {
                System.Console.WriteLine(listing.Id);
            }

            return 0;
        }

        System.Console.WriteLine($"{"ID",-16} {"STATUS",-14} {"QEMU PID",-9} {"CREATED",-20} COMMAND");
        foreach (var listing in listings)
        {
            var state = listing.State;
            var container = state?.Containers.FirstOrDefault();
            var status = !listing.VmRunning ? (state is null ? "incomplete" : "dead")
                : container is { Status: "stopped", ExitCode: { } code } ? $"exited ({code})"
                : container?.Status ?? "running";
            var created = state?.CreatedAt.ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) ?? "-";
            var pid = listing.VmRunning && state is not null ? state.Pid.ToString(CultureInfo.InvariantCulture) : "-";
            System.Console.WriteLine($"{listing.Id,-16} {status,-14} {pid,-9} {created,-20} {container?.Command ?? ""}");
        }

        return 0;
    }
}

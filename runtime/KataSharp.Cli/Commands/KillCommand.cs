namespace KataSharp.Cli.Commands;

/// <summary><c>katasharp kill ID [SIGNAL]</c>: signals the container's init process (default SIGKILL).</summary>
internal static class KillCommand
{
    private static readonly TimeSpan ExitSettleTime = TimeSpan.FromSeconds(5);

    public static readonly CommandSyntax Syntax = new()
    {
        Name = "kill",
        Summary = "Send a signal to a sandbox's container",
        Arguments = "[OPTIONS] ID [SIGNAL]",
        Description = "Send SIGNAL (a name such as TERM or a number; default KILL) to the container of a kept sandbox.",
        Options =
        [
            CliOption.Flag("all", "signal every process of the container, not only its init"),
            CliOption.Value("container", "CID", "the container to signal (default: ID)"),
        ],
    };

    public static async Task<int> ExecuteAsync(GlobalOptions global, IReadOnlyList<string> args, CancellationToken shutdown)
    {
        var reader = Syntax.Parse(args);
        if (Syntax.PrintedHelp(reader))
        {
            return 0;
        }

        if (reader.Positionals.Count is < 1 or > 2)
        {
            throw new UsageException("kill: give the sandbox ID and optionally a SIGNAL");
        }

        var id = reader.Positionals[0];
        var signal = reader.Positionals.Count == 2 ? ValueParsers.ParseSignal(reader.Positionals[1]) : 9;
        using var context = CliContext.Create(global, reader);
        await using var sandbox = await context.Manager.OpenAsync(id, shutdown).ConfigureAwait(false);
        var container = sandbox.GetContainer(reader.Get("container") ?? id);
        await container.Init.SignalAsync(signal, reader.Has("all"), shutdown).ConfigureAwait(false);

        // No process watches a detached container: record its exit here if the signal ended it,
        // so that ps and rm in later invocations see it stopped.
        using var settle = CancellationTokenSource.CreateLinkedTokenSource(shutdown);
        settle.CancelAfter(ExitSettleTime);
        try
        {
            container.RecordExit(await container.Init.WaitAsync(settle.Token).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (!shutdown.IsCancellationRequested)
        {
            // Still running (a signal it handles or ignores): nothing to record.
        }

        return 0;
    }
}

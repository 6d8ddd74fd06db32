using KataSharp.Runtime.Images;
using KataSharp.Runtime.Sandbox;

namespace KataSharp.Cli.Commands;

/// <summary><c>katasharp exec ID [-t] [-i] -- CMD</c>: runs another process in a kept sandbox's container.</summary>
internal static class ExecCommand
{
    public static readonly CommandSyntax Syntax = new()
    {
        Name = "exec",
        Summary = "Run another command in a kept sandbox",
        Arguments = "[OPTIONS] ID [--] COMMAND [ARG...]",
        Description = "Run COMMAND in the container of a kept sandbox (katasharp run --keep); 127: no such command, 126: it cannot be run.",
        StopAtFirstPositional = true,
        Options =
        [
            CliOption.Value("container", "CID", "the container to exec in (default: ID)"),
            CliOption.Value("env", "K=V", "set an environment variable (repeatable)", 'e'),
            CliOption.Value("workdir", "DIR", "working directory", 'w'),
            CliOption.Flag("tty", "allocate a terminal", 't'),
            CliOption.Flag("interactive", "forward stdin", 'i'),
        ],
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
            throw new UsageException("exec: give the sandbox ID and a COMMAND");
        }

        var id = reader.Positionals[0];
        var command = reader.Rest.SkipWhile((a, i) => i == 0 && a == "--").ToList();
        if (command.Count == 0)
        {
            throw new UsageException("exec: give a COMMAND after the sandbox ID");
        }

        var terminal = reader.Has("tty");
        var interactive = reader.Has("interactive");
        using var context = CliContext.Create(global, reader);
        await using var sandbox = await context.Manager.OpenAsync(id, shutdown).ConfigureAwait(false);
        var container = sandbox.GetContainer(reader.Get("container") ?? id);
        var process = DefaultSpec.Process(new SpecOptions
        {
            Args = command,
            Env = reader.GetAll("env").ToList(),
            Cwd = reader.Get("workdir") ?? "/",
            Terminal = terminal,
            User = ProcessUser.Root,
        });
        var execId = "exec-" + SandboxManager.NewId();
        var running = await container.ExecAsync(execId, process, interactive, terminal, shutdown).ConfigureAwait(false);
        await using var io = new ProcessIo(running);
        io.Start(interactive, null);
        var wait = running.WaitAsync(shutdown);
        if (await Task.WhenAny(wait, sandbox.Exited).ConfigureAwait(false) != wait)
        {
            System.Console.Error.WriteLine($"katasharp: the sandbox VM died ({await sandbox.Exited.ConfigureAwait(false)})");
            return Program.RuntimeError;
        }

        var result = await wait.ConfigureAwait(false);
        await io.DrainAsync().ConfigureAwait(false);
        return result.ExitCode;
    }
}

namespace KataSharp.Cli.Commands;

/// <summary><c>katasharp logs ID</c>: a kept sandbox's container output, or with --console its VM console.</summary>
internal static class LogsCommand
{
    public static readonly CommandSyntax Syntax = new()
    {
        Name = "logs",
        Summary = "Show a kept sandbox's output or its VM console",
        Arguments = "[OPTIONS] ID",
        Description = "Print the container output a kept sandbox recorded (katasharp run --keep).",
        Options = [CliOption.Flag("console", "print the VM's serial console (kernel and agent messages) instead")],
    };

    public static int Execute(GlobalOptions global, IReadOnlyList<string> args)
    {
        var reader = Syntax.Parse(args);
        if (Syntax.PrintedHelp(reader))
        {
            return 0;
        }

        if (reader.Positionals.Count != 1)
        {
            throw new UsageException("logs: give one sandbox ID");
        }

        var id = reader.Positionals[0];
        using var context = CliContext.Create(global, reader);
        var paths = context.Manager.PathsFor(id);
        if (!Directory.Exists(paths.Directory))
        {
            throw new KataSharp.Runtime.Sandbox.SandboxException(KataSharp.Runtime.Sandbox.SandboxErrorCode.NotFound, $"no such sandbox: {id}");
        }

        var file = reader.Has("console") ? paths.ConsoleLog : paths.OutputLog(id);
        if (!File.Exists(file))
        {
            System.Console.Error.WriteLine(reader.Has("console")
                ? $"katasharp: sandbox {id} has no console log"
                : $"katasharp: sandbox {id} recorded no container output (only run --keep does); try --console");
            return 1;
        }

        using var input = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var output = System.Console.OpenStandardOutput();
        input.CopyTo(output);
        return 0;
    }
}

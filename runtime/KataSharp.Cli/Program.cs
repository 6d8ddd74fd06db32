using System.Runtime.InteropServices;
using KataSharp.Cli.Commands;
using KataSharp.Runtime.Configuration;
using KataSharp.Runtime.Images;
using KataSharp.Runtime.Sandbox;

namespace KataSharp.Cli;

internal static class Program
{
    /// <summary>docker and runc exit 125 when the runtime itself fails, so that it never looks like the command's own status.</summary>
    public const int RuntimeError = 125;

    /// <summary>The exit code of a job that ran out of time, as timeout(1) has it.</summary>
    public const int TimedOut = 124;

    /// <summary>Every command, in the order <c>katasharp --help</c> lists them.</summary>
    public static readonly IReadOnlyList<CommandSyntax> Commands =
    [
        RunCommand.Syntax, ExecCommand.Syntax, PsCommand.Syntax, KillCommand.Syntax, RmCommand.Syntax, GcCommand.Syntax,
        ImagesCommand.Syntax, PruneCommand.Syntax, MonitorCommand.Syntax, LogsCommand.Syntax, CheckCommand.Syntax, EnvCommand.Syntax,
        VersionCommand.Syntax, InstallCommand.InstallSyntax, InstallCommand.UninstallSyntax, CompletionCommand.Syntax, ImageCommand.Syntax,
    ];

    /// <summary><c>katasharp</c> itself: the options before the command, and the command list.</summary>
    public static readonly CommandSyntax TopLevel = new()
    {
        Name = "",
        Summary = "Run commands in throw-away micro-VMs",
        Arguments = "[--config FILE] [--verbose] COMMAND [OPTIONS]",
        Description = "Run commands in throw-away micro-VMs.\n\nCommands:\n"
            + string.Concat(Commands.Select(c => $"  {c.Name.PadRight(Commands.Max(n => n.Name.Length) + 2)}{c.Summary}\n")),
        StopAtFirstPositional = true,
        Options = [CliOption.Flag("version", "print the version")],
        Footer = "Run 'katasharp COMMAND --help' for a command's options.",
    };

    private static async Task<int> Main(string[] args)
    {
        using var shutdown = new CancellationTokenSource();
        var signalled = 0;
        void OnSignal(PosixSignalContext context)
        {
            // The first signal tears down cleanly; the default action would leave the VM and mounts behind.
            context.Cancel = true;
            if (Interlocked.CompareExchange(ref signalled, (int)context.Signal, 0) == 0)
            {
                shutdown.Cancel();
            }
        }

        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        using var sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, OnSignal);

        try
        {
            var (global, command, rest) = ParseGlobal(args);
            return await DispatchAsync(global, command, rest, shutdown.Token).ConfigureAwait(false);
        }
        catch (UsageException e)
        {
            System.Console.Error.WriteLine($"katasharp: {e.Message}");
            System.Console.Error.WriteLine("Run 'katasharp --help' for usage.");
            return RuntimeError;
        }
        catch (ConfigException e)
        {
            System.Console.Error.WriteLine($"katasharp: configuration error: {e.Message}");
            return RuntimeError;
        }
        catch (SandboxException e) when (UnrunnableCommand.Of(e) is (var exitCode, var message))
        {
            // As docker run: the command's own shell-style status, not the runtime's 125.
            System.Console.Error.WriteLine($"katasharp: {message}");
            return exitCode;
        }
        catch (SandboxException e)
        {
            System.Console.Error.WriteLine($"katasharp: error: {e.Message}");
            return RuntimeError;
        }
        catch (ImageException e)
        {
            System.Console.Error.WriteLine($"katasharp: image error: {e.Message}");
            return RuntimeError;
        }
        catch (OperationCanceledException) when (shutdown.IsCancellationRequested)
        {
            System.Console.Error.WriteLine("katasharp: interrupted; cleaned up");
            return 128 + SignalNumber(signalled);
        }
        catch (Exception e)
        {
            // Every command cleans up in its own finally blocks; here only the report remains.
            System.Console.Error.WriteLine($"katasharp: internal error: {e.Message}");
            System.Console.Error.WriteLine(e);
            return RuntimeError;
        }
    }

    /// <summary>Runs one command; also how <c>completion</c> reads each command's help.</summary>
    internal static async Task<int> DispatchAsync(GlobalOptions global, string? command, string[] rest, CancellationToken cancellationToken) =>
        command switch
        {
            "run" => await RunCommand.ExecuteAsync(global, rest, cancellationToken).ConfigureAwait(false),
            "install" => await InstallCommand.InstallAsync(rest, cancellationToken).ConfigureAwait(false),
            "uninstall" => await InstallCommand.UninstallAsync(rest, cancellationToken).ConfigureAwait(false),
            "exec" => await ExecCommand.ExecuteAsync(global, rest, cancellationToken).ConfigureAwait(false),
            "ps" => await PsCommand.ExecuteAsync(global, rest, cancellationToken).ConfigureAwait(false),
            "kill" => await KillCommand.ExecuteAsync(global, rest, cancellationToken).ConfigureAwait(false),
            "rm" => await RmCommand.ExecuteAsync(global, rest, cancellationToken).ConfigureAwait(false),
            "gc" => await GcCommand.ExecuteAsync(global, rest, cancellationToken).ConfigureAwait(false),
            "monitor" => await MonitorCommand.ExecuteAsync(global, rest, cancellationToken).ConfigureAwait(false),
            "logs" => LogsCommand.Execute(global, rest),
            "images" => ImagesCommand.Execute(global, rest),
            "prune" => await PruneCommand.ExecuteAsync(global, rest, cancellationToken).ConfigureAwait(false),
            "check" => await CheckCommand.ExecuteAsync(global, rest, cancellationToken).ConfigureAwait(false),
            "env" => EnvCommand.Execute(global, rest),
            "version" => VersionCommand.Execute(rest),
            "image" => await ImageCommand.ExecuteAsync(rest, cancellationToken).ConfigureAwait(false),
            "completion" => CompletionCommand.Execute(rest),
            "help" => PrintUsage(),
            null => throw new UsageException("no command given"),
            _ => throw new UsageException($"unknown command '{command}'"),
        };

    private static int SignalNumber(int posixSignal) => posixSignal switch
    {
        (int)PosixSignal.SIGINT => 2,
        (int)PosixSignal.SIGTERM => 15,
        (int)PosixSignal.SIGHUP => 1,
        _ => 2,
    };

    private static int PrintUsage()
    {
        System.Console.Write(TopLevel.Help());
        return 0;
    }

    /// <summary>The options before the command, the command, and its arguments; --help and --version stand for their commands.</summary>
    internal static (GlobalOptions Global, string? Command, string[] Arguments) ParseGlobal(string[] args)
    {
        var reader = TopLevel.Parse(args);
        var global = new GlobalOptions(reader.Get("config"), reader.Has("verbose"));
        var command = reader.Has("help") ? "help" : reader.Has("version") ? "version" : reader.Positionals.FirstOrDefault();
        return (global, command, [.. reader.Rest]);
    }
}

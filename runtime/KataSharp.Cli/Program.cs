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

    public const string Usage = """
        Usage: katasharp [--config FILE] [--verbose] COMMAND [OPTIONS]

        Run commands in throw-away micro-VMs.

        Commands:
          run      Boot a sandbox VM and run a command in it
          exec     Run another command in a kept sandbox
          ps       List sandboxes, or the processes of one
          kill     Send a signal to a sandbox's container
          rm       Remove sandboxes
          gc       Remove what crashed sandboxes left behind
          images   List the image cache
          prune    Clean the image cache
          monitor  Serve every pod's Prometheus metrics on one HTTP port
          logs     Show a kept sandbox's output or its VM console
          check    Check that this host can run sandboxes
          env      Print the effective configuration and paths
          version  Print the version
          install  Install on this node and register with containerd (and Kubernetes)
          uninstall Undo install
          completion Print the bash completion script (source <(katasharp completion bash))

        Run 'katasharp COMMAND --help' for a command's options.
        """;

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
            "version" or "--version" => VersionCommand.Execute(),
            "image" => await ImageCommand.ExecuteAsync(rest, cancellationToken).ConfigureAwait(false),
            "completion" => await CompletionCommand.ExecuteAsync(rest, cancellationToken).ConfigureAwait(false),
            "help" or "--help" or "-h" => PrintUsage(),
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
        System.Console.WriteLine(Usage);
        return 0;
    }

    private static (GlobalOptions Global, string? Command, string[] Arguments) ParseGlobal(string[] args)
    {
        string? config = null;
        var verbose = false;
        var i = 0;
        for (; i < args.Length; i++)
        {
            var arg = args[i];
            if (arg == "--config")
            {
                config = i + 1 < args.Length ? args[++i] : throw new UsageException("--config needs a value");
            }
            else if (arg.StartsWith("--config=", StringComparison.Ordinal))
            {
                config = arg["--config=".Length..];
            }
            else if (arg == "--verbose")
            {
                verbose = true;
            }
            else
            {
                break;
            }
        }

        return (new GlobalOptions(config, verbose), i < args.Length ? args[i] : null, args[Math.Min(i + 1, args.Length)..]);
    }
}

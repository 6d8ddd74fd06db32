using KataSharp.Cli.Install;

namespace KataSharp.Cli.Commands;

/// <summary>
/// <c>katasharp install</c> and <c>katasharp uninstall</c>: put KataSharp on this node and register it
/// with containerd (and Kubernetes), or take all of it away again. The DaemonSet in deploy/ runs these.
/// </summary>
internal static class InstallCommand
{
    private static readonly CliOption[] SharedOptions =
    [
        CliOption.Value("root", "DIR", "the install root (default: /opt/katasharp)"),
        CliOption.Value("containerd-config", "FILE", "containerd's config (default: /etc/containerd/config.toml, or what install used)"),
        CliOption.Value("label-node", "NAME", "the Kubernetes node to (un)label katasharp.io/runtime=true, through the\nin-cluster service account; skipped outside a cluster"),
        CliOption.Value("link-dir", "DIR", "link katasharp and the shim into DIR, a directory on containerd's PATH\n(default: /usr/local/bin; containerd 1.x finds shims only there); none: no links"),
        CliOption.Value("restart", "MODE", "how containerd is restarted: auto (systemd if it runs here, else the host's\nsystemd through nsenter when PID 1 is systemd), systemd, nsenter, none"),
        CliOption.Value("restart-command", "CMD", "a shell command that restarts containerd instead"),
        CliOption.Value("systemd-unit", "NAME", "containerd's unit (default: containerd)"),
    ];

    public static readonly CommandSyntax InstallSyntax = new()
    {
        Name = "install",
        Summary = "Install on this node and register with containerd (and Kubernetes)",
        Description = """
            Install KataSharp on this node: the binaries, guest image and configuration under --root, the
            katasharp runtime in containerd's config (a drop-in it imports for a version 3 config, a marked
            block for version 2), a containerd restart, and the node label the RuntimeClass asks for.
            Running it again changes only what differs; 'katasharp uninstall' undoes it.
            """,
        TakesCommonOptions = false,
        Options =
        [
            .. SharedOptions,
            CliOption.Value("from", "DIR", "the payload: bin/, guest/, images/, configs/ (default: the directory above this binary's)"),
            CliOption.Value("containerd", "BINARY", "asked for its version when there is no config file yet (default: containerd)"),
        ],
    };

    public static readonly CommandSyntax UninstallSyntax = new()
    {
        Name = "uninstall",
        Summary = "Undo install",
        Description = """
            Undo 'katasharp install': remove the node label, the runtime entry from containerd's config
            (restoring the lines install changed), restart containerd, and remove the installed files.
            Running it again, or on a node without KataSharp, changes nothing.
            """,
        TakesCommonOptions = false,
        Options = SharedOptions,
    };

    public static Task<int> InstallAsync(IReadOnlyList<string> args, CancellationToken cancellationToken) =>
        RunAsync(InstallSyntax, args, (installer, token) => installer.InstallAsync(token), cancellationToken);

    public static Task<int> UninstallAsync(IReadOnlyList<string> args, CancellationToken cancellationToken) =>
        RunAsync(UninstallSyntax, args, (installer, token) => installer.UninstallAsync(token), cancellationToken);

    private static async Task<int> RunAsync(CommandSyntax syntax, IReadOnlyList<string> args, Func<NodeInstaller, CancellationToken, Task> action, CancellationToken cancellationToken)
    {
        var command = syntax.Name;
        var reader = syntax.Parse(args);
        if (syntax.PrintedHelp(reader))
        {
            return 0;
        }

        if (reader.Positionals.Count > 0)
        {
            throw new UsageException($"{command}: unexpected argument '{reader.Positionals[0]}'");
        }

        var options = new InstallOptions(
            Path.GetFullPath((syntax == InstallSyntax ? reader.Get("from") : null) ?? Path.Combine(AppContext.BaseDirectory, "..")),
            new InstallLayout(Path.GetFullPath(reader.Get("root") ?? InstallLayout.DefaultRoot)),
            reader.Get("containerd-config"),
            (syntax == InstallSyntax ? reader.Get("containerd") : null) ?? "containerd",
            (reader.Get("link-dir") ?? InstallLayout.DefaultLinkDirectory) is var links && links != "none" ? Path.GetFullPath(links) : null,
            ContainerdRestart.Plan(reader.Get("restart") ?? "auto", reader.Get("restart-command"), reader.Get("systemd-unit") ?? "containerd",
                p => File.Exists(p) || Directory.Exists(p), ContainerdRestart.ReadPid1Name),
            reader.Get("label-node"));
        using var cluster = options.Node is null ? null : KubernetesNodes.InCluster(Environment.GetEnvironmentVariable);
        try
        {
            await action(new NodeInstaller(options, cluster, System.Console.Out), cancellationToken).ConfigureAwait(false);
        }
        catch (InstallException e)
        {
            System.Console.Error.WriteLine($"katasharp {command}: {e.Message}");
            return Program.RuntimeError;
        }

        System.Console.WriteLine(command == "install"
            ? $"KataSharp is installed in {options.Layout.Root}; pods with runtimeClassName: katasharp run in micro-VMs (deploy/runtimeclass.yaml)"
            : "KataSharp is uninstalled");
        return 0;
    }
}

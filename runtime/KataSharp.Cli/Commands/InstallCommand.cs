using KataSharp.Cli.Install;

namespace KataSharp.Cli.Commands;

/// <summary>
/// <c>katasharp install</c> and <c>katasharp uninstall</c>: put KataSharp on this node and register it
/// with containerd (and Kubernetes), or take all of it away again. The DaemonSet in deploy/ runs these.
/// </summary>
internal static class InstallCommand
{
    private const string InstallUsage = """
        Usage: katasharp install [--from DIR] [--root DIR] [--containerd-config FILE] [--label-node NAME] [OPTIONS]

        Install KataSharp on this node: the binaries, guest image and configuration under --root, the
        katasharp runtime in containerd's config (a drop-in it imports for a version 3 config, a marked
        block for version 2), a containerd restart, and the node label the RuntimeClass asks for.
        Running it again changes only what differs; 'katasharp uninstall' undoes it.

        """ + SharedOptions + """
          --from DIR                the payload: bin/, guest/, images/, configs/ (default: the directory above this binary's)
          --containerd BINARY       asked for its version when there is no config file yet (default: containerd)
        """;

    private const string UninstallUsage = """
        Usage: katasharp uninstall [--root DIR] [--containerd-config FILE] [--label-node NAME] [OPTIONS]

        Undo 'katasharp install': remove the node label, the runtime entry from containerd's config
        (restoring the lines install changed), restart containerd, and remove the installed files.
        Running it again, or on a node without KataSharp, changes nothing.

        """ + SharedOptions;

    private const string SharedOptions = """
          --root DIR                the install root (default: /opt/katasharp)
          --containerd-config FILE  containerd's config (default: /etc/containerd/config.toml, or what install used)
          --label-node NAME         the Kubernetes node to (un)label katasharp.io/runtime=true, through the
                                    in-cluster service account; skipped outside a cluster
          --link-dir DIR            link katasharp and the shim into DIR, a directory on containerd's PATH
                                    (default: /usr/local/bin; containerd 1.x finds shims only there); none: no links
          --restart MODE            how containerd is restarted: auto (systemd if it runs here, else the host's
                                    systemd through nsenter when PID 1 is systemd), systemd, nsenter, none
          --restart-command CMD     a shell command that restarts containerd instead
          --systemd-unit NAME       containerd's unit (default: containerd)

        """;

    public static Task<int> InstallAsync(IReadOnlyList<string> args, CancellationToken cancellationToken) =>
        RunAsync("install", InstallUsage, args, (installer, token) => installer.InstallAsync(token), cancellationToken);

    public static Task<int> UninstallAsync(IReadOnlyList<string> args, CancellationToken cancellationToken) =>
        RunAsync("uninstall", UninstallUsage, args, (installer, token) => installer.UninstallAsync(token), cancellationToken);

    private static async Task<int> RunAsync(string command, string usage, IReadOnlyList<string> args, Func<NodeInstaller, CancellationToken, Task> action, CancellationToken cancellationToken)
    {
        var reader = new ArgReader(command).Value("root").Value("containerd-config").Value("label-node").Value("link-dir")
            .Value("restart").Value("restart-command").Value("systemd-unit").Flag("help", 'h');
        if (command == "install")
        {
            reader.Value("from").Value("containerd");
        }

        reader.Parse(args);
        if (reader.Has("help"))
        {
            System.Console.WriteLine(usage);
            return 0;
        }

        if (reader.Positionals.Count > 0)
        {
            throw new UsageException($"{command}: unexpected argument '{reader.Positionals[0]}'");
        }

        var options = new InstallOptions(
            Path.GetFullPath(reader.Get("from") ?? Path.Combine(AppContext.BaseDirectory, "..")),
            new InstallLayout(Path.GetFullPath(reader.Get("root") ?? InstallLayout.DefaultRoot)),
            reader.Get("containerd-config"),
            reader.Get("containerd") ?? "containerd",
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

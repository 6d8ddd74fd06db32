using KataSharp.Runtime.HostTools;

namespace KataSharp.Cli.Install;

/// <summary>
/// How install and uninstall make containerd read its changed config: containerd reloads nothing on a
/// signal, so it is restarted (its shims and containers keep running). On a systemd host that is
/// systemctl; from a privileged pod with hostPID it is the host's systemctl through nsenter into PID 1's
/// mount namespace (as kata-deploy does); elsewhere a command the caller gives, or nothing.
/// </summary>
/// <param name="Command">The program and arguments to run; empty for none.</param>
/// <param name="Description">How to say what happens.</param>
internal sealed record ContainerdRestart(IReadOnlyList<string> Command, string Description)
{
    public const string Modes = "auto, systemd, nsenter, none";

    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

    /// <param name="mode">auto | systemd | nsenter | none.</param>
    /// <param name="command">A shell command that restarts containerd; wins over the mode.</param>
    /// <param name="unit">The systemd unit.</param>
    /// <param name="exists">File.Exists/Directory.Exists (a seam for tests).</param>
    /// <param name="pid1Name">The name of PID 1 as /proc/1/comm has it, or null.</param>
    public static ContainerdRestart Plan(string mode, string? command, string unit, Func<string, bool> exists, Func<string?> pid1Name)
    {
        if (command is { Length: > 0 })
        {
            return new(["/bin/sh", "-c", command], $"running '{command}'");
        }

        var systemd = new ContainerdRestart(["systemctl", "restart", unit], $"systemctl restart {unit}");
        var nsenter = new ContainerdRestart(["nsenter", "-t", "1", "-m", "--", "systemctl", "restart", unit], $"the host's systemctl restart {unit} (nsenter into PID 1)");
        return mode switch
        {
            "systemd" => systemd,
            "nsenter" => nsenter,
            "none" => new([], "not restarting containerd (--restart none): restart it to load the change"),
            // A host that booted with systemd has /run/systemd/system; inside a pod it is the host's PID 1 that runs it.
            "auto" when exists("/run/systemd/system") => systemd,
            "auto" when pid1Name() == "systemd" => nsenter,
            "auto" => new([], "no systemd here and no --restart-command: restart containerd to load the change"),
            _ => throw new UsageException($"--restart must be one of {Modes}, not '{mode}'"),
        };
    }

    public static string? ReadPid1Name()
    {
        try
        {
            return File.ReadAllText("/proc/1/comm").Trim();
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    public async Task RunAsync(TextWriter output, CancellationToken cancellationToken)
    {
        output.WriteLine($"containerd: {Description}");
        if (Command.Count == 0)
        {
            return;
        }

        var result = await HostProcess.RunAsync(Command[0], [.. Command.Skip(1)], Timeout, cancellationToken).ConfigureAwait(false);
        if (result.ExitCode != 0)
        {
            throw new InstallException($"restarting containerd failed ({Description}, exit code {result.ExitCode}): {result.Output.Trim()}");
        }
    }
}

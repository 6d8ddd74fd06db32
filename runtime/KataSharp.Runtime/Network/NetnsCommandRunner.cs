using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;

namespace KataSharp.Runtime.Network;

/// <summary>What a command printed and how it ended.</summary>
public sealed record CommandResult(int ExitCode, string Stdout, string Stderr)
{
    public bool Succeeded => ExitCode == 0;
}

/// <summary>
/// Runs host networking tools (ip, tc, iptables) in a network namespace. The one place that enters
/// other namespaces, so that everything else can be tested with a fake.
/// </summary>
public interface INetnsCommandRunner
{
    /// <summary>Runs <paramref name="command"/> in the netns at <paramref name="netnsPath"/>, or in this process's own when null.</summary>
    /// <exception cref="NetworkException">The tool is missing, or the command did not finish within the runner's timeout.</exception>
    Task<CommandResult> RunAsync(string? netnsPath, IReadOnlyList<string> command, CancellationToken cancellationToken);
}

/// <summary>
/// Enters a namespace with util-linux <c>nsenter --net=PATH</c> in the child rather than setns(2) in this
/// process: the namespace can be any path (a CNI netns bind mount, /proc/PID/ns/net), and no .NET thread
/// ever runs in a foreign namespace. <c>ip -n</c> would only take names under /var/run/netns.
/// </summary>
public sealed class NetnsCommandRunner : INetnsCommandRunner
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Where the tools live on Debian; a shim started by containerd may have a PATH without the sbin directories.</summary>
    private static readonly string[] FallbackDirectories = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"];

    private readonly TimeSpan _timeout;

    public NetnsCommandRunner(TimeSpan? timeout = null) => _timeout = timeout ?? DefaultTimeout;

    public static NetnsCommandRunner Default { get; } = new();

    public async Task<CommandResult> RunAsync(string? netnsPath, IReadOnlyList<string> command, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfZero(command.Count);
        var start = new ProcessStartInfo(netnsPath is null ? Resolve(command[0]) : Resolve("nsenter"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
            UseShellExecute = false,
        };
        if (netnsPath is not null)
        {
            start.ArgumentList.Add($"--net={netnsPath}");
            start.ArgumentList.Add("--");
            start.ArgumentList.Add(Resolve(command[0]));
        }

        foreach (var argument in command.Skip(1))
        {
            start.ArgumentList.Add(argument);
        }

        // Error texts are matched (e.g. "Cannot find device"), so they must not be translated.
        start.Environment["LC_ALL"] = "C";

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new NetworkException($"cannot start {command[0]}");
        }
        catch (Win32Exception e)
        {
            var program = netnsPath is null ? command[0] : "nsenter";
            throw new NetworkException($"cannot run {program}: {e.Message} (is {PackageOf(program)} installed?)", NetworkErrorKind.FailedPrecondition, e);
        }

        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
            var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(_timeout);
            try
            {
                await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                Kill(process);
                cancellationToken.ThrowIfCancellationRequested();
                throw new NetworkException($"{Describe(netnsPath, command)} did not finish within {_timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s");
            }

            return new CommandResult(process.ExitCode, await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false));
        }
    }

    /// <summary>"ip link add ... (in /var/run/netns/x)", for error messages.</summary>
    public static string Describe(string? netnsPath, IReadOnlyList<string> command) =>
        string.Join(' ', command) + (netnsPath is null ? "" : $" (in {netnsPath})");

    private static void Kill(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // It exited meanwhile.
        }
    }

    private static string Resolve(string tool)
    {
        if (tool.Contains('/', StringComparison.Ordinal))
        {
            return tool;
        }

        var path = Environment.GetEnvironmentVariable("PATH") ?? "";
        foreach (var directory in path.Split(':', StringSplitOptions.RemoveEmptyEntries).Concat(FallbackDirectories))
        {
            var candidate = Path.Combine(directory, tool);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return tool;
    }

    private static string PackageOf(string tool) => tool switch
    {
        "ip" or "tc" => "iproute2",
        "nsenter" => "util-linux",
        "iptables" => "iptables",
        _ => tool,
    };
}

using System.Globalization;
using KataSharp.Native;
using KataSharp.Native.Processes;

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
/// Starts the tool with the native spawner, which enters the namespace the one way KataSharp does
/// (setns on a dedicated thread that only spawns, see <see cref="ProcessSpawner"/>): the namespace can be
/// any path (a CNI netns bind mount, /proc/PID/ns/net), and no .NET thread ever runs managed work in a
/// foreign namespace. <c>ip -n</c> would only take names under /var/run/netns.
/// </summary>
public sealed class NetnsCommandRunner : INetnsCommandRunner
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

    /// <summary>What is kept of each stream: the largest answer read (a netns's iptables-save) is far smaller.</summary>
    internal const int MaxCapturedBytes = 4 * 1024 * 1024;

    /// <summary>Where the tools live on Debian; a shim started by containerd may have a PATH without the sbin directories.</summary>
    private static readonly string[] FallbackDirectories = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"];

    private readonly TimeSpan _timeout;

    public NetnsCommandRunner(TimeSpan? timeout = null) => _timeout = timeout ?? DefaultTimeout;

    public static NetnsCommandRunner Default { get; } = new();

    public async Task<CommandResult> RunAsync(string? netnsPath, IReadOnlyList<string> command, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfZero(command.Count);
        var program = Resolve(command[0]);
        if (!program.Contains('/', StringComparison.Ordinal))
        {
            throw new NetworkException($"cannot run {command[0]}: not found (is {PackageOf(command[0])} installed?)", NetworkErrorKind.FailedPrecondition);
        }

        program = Path.GetFullPath(program);

        var (stdoutRead, stdoutWrite) = FdOps.CreatePipe();
        var (stderrRead, stderrWrite) = FdOps.CreatePipe();
        int pid;
        using (stdoutWrite)
        using (stderrWrite)
        {
            var request = new SpawnRequest([program, .. command.Skip(1)])
            {
                FileActions =
                [
                    new SpawnFileAction.Open(0, "/dev/null", Linux.O_RDONLY),
                    new SpawnFileAction.Duplicate(stdoutWrite.Value, 1),
                    new SpawnFileAction.Duplicate(stderrWrite.Value, 2),
                ],
                // Its own process group, so a timeout kills whatever it started too.
                NewSession = true,
                // Error texts are matched (e.g. "Cannot find device"), so they must not be translated.
                Environment = [.. ProcessSpawner.CurrentEnvironment().Where(e => !e.StartsWith("LC_ALL=", StringComparison.Ordinal)), "LC_ALL=C"],
                NetworkNamespacePath = netnsPath,
            };
            try
            {
                pid = ProcessSpawner.Spawn(request);
            }
            catch (ErrnoException e)
            {
                stdoutRead.Dispose();
                stderrRead.Dispose();
                if (netnsPath is not null && e.Errno == Linux.ENOENT && !File.Exists(netnsPath))
                {
                    // A namespace deleted meanwhile is a failed command, as it was with nsenter: undo reads it as already gone.
                    return new CommandResult(1, "", $"cannot open {netnsPath}: {ErrnoException.Describe(e.Errno)}\n");
                }

                throw e.Errno == Linux.ENOENT && !File.Exists(program)
                    ? new NetworkException($"cannot run {command[0]}: {e.Message} (is {PackageOf(command[0])} installed?)", NetworkErrorKind.FailedPrecondition, e)
                    : new NetworkException($"cannot start {Describe(netnsPath, command)}: {e.Message}", NetworkErrorKind.Internal, e);
            }
        }

        var stdout = ReadToEndAsync(stdoutRead);
        var stderr = ReadToEndAsync(stderrRead);
        // A blocking waitpid on a pool thread wakes the moment the tool exits; these commands last milliseconds.
        var exited = Task.Run(() => SystemCalls.WaitChild(pid), CancellationToken.None);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_timeout);
        int status;
        try
        {
            status = await exited.WaitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            _ = Libc.Kill(-pid, Linux.SIGKILL);
            await Task.WhenAll(exited, stdout, stderr).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            throw new NetworkException($"{Describe(netnsPath, command)} did not finish within {_timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s");
        }
        catch (ErrnoException e)
        {
            throw new NetworkException($"cannot wait for {Describe(netnsPath, command)}: {e.Message}", NetworkErrorKind.Internal, e);
        }

        return new CommandResult(WaitStatus.ToExitStatus(status), await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false));
    }

    private static async Task<string> ReadToEndAsync(OwnedFd readEnd)
    {
        using var stream = readEnd.ToFileStream(FileAccess.Read, bufferSize: 0);
        var capture = new BoundedCapture(MaxCapturedBytes);
        await capture.DrainAsync(stream, CancellationToken.None).ConfigureAwait(false);
        return capture.Text();
    }

    /// <summary>"ip link add ... (in /var/run/netns/x)", for error messages.</summary>
    public static string Describe(string? netnsPath, IReadOnlyList<string> command) =>
        string.Join(' ', command) + (netnsPath is null ? "" : $" (in {netnsPath})");

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
        "iptables" => "iptables",
        _ => tool,
    };
}

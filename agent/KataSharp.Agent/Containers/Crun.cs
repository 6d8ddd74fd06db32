using System.Globalization;
using KataSharp.Agent.Processes;

namespace KataSharp.Agent.Containers;

/// <summary>
/// The crun command line, one method per subcommand. Every call has a timeout, and a failure
/// carries crun's own message so the host sees why.
/// </summary>
internal sealed class Crun : ICrun
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    private readonly CommandRunner _runner;
    private readonly string _crun;
    private readonly string _root;
    private readonly string? _cgroupManager;

    public Crun(CommandRunner runner, string crunPath, string stateRoot, string? cgroupManager = null)
    {
        _runner = runner;
        _crun = crunPath;
        _root = stateRoot;
        _cgroupManager = cgroupManager;
    }

    /// <summary>
    /// crun create with the process's stdio as crun's own 0/1/2, which the container init inherits.
    /// crun's errors then go to the container's stderr, so they are read back from its log file.
    /// </summary>
    public async Task CreateWithStdioAsync(string id, string bundle, string pidFile, (int Stdin, int Stdout, int Stderr) stdio,
        CancellationToken cancellationToken)
    {
        var log = Path.Combine(bundle, "crun.log");
        File.Delete(log);
        var status = await _runner.RunWithStdioAsync(
            Argv(log, "create", "--bundle", bundle, "--pid-file", pidFile, id),
            stdio.Stdin, stdio.Stdout, stdio.Stderr, DefaultTimeout, cancellationToken).ConfigureAwait(false);
        if (status != 0)
        {
            throw Failure("create", id, status, ReadLog(log));
        }
    }

    /// <summary>crun create for a terminal: crun sends the pty master to <paramref name="consoleSocket"/>.</summary>
    public Task CreateWithConsoleAsync(string id, string bundle, string pidFile, string consoleSocket, CancellationToken cancellationToken) =>
        RunCheckedAsync("create", id, cancellationToken, "create", "--bundle", bundle, "--pid-file", pidFile, "--console-socket", consoleSocket, id);

    public Task StartAsync(string id, CancellationToken cancellationToken) =>
        RunCheckedAsync("start", id, cancellationToken, "start", id);

    public Task KillAsync(string id, int signal, bool all, CancellationToken cancellationToken) =>
        all
            ? RunCheckedAsync("kill", id, cancellationToken, "kill", "--all", id, signal.ToString(CultureInfo.InvariantCulture))
            : RunCheckedAsync("kill", id, cancellationToken, "kill", id, signal.ToString(CultureInfo.InvariantCulture));

    public Task DeleteAsync(string id, CancellationToken cancellationToken) =>
        RunCheckedAsync("delete", id, cancellationToken, "delete", "--force", id);

    public Task PauseAsync(string id, CancellationToken cancellationToken) =>
        RunCheckedAsync("pause", id, cancellationToken, "pause", id);

    public Task ResumeAsync(string id, CancellationToken cancellationToken) =>
        RunCheckedAsync("resume", id, cancellationToken, "resume", id);

    public Task UpdateAsync(string id, string resourcesFile, CancellationToken cancellationToken) =>
        RunCheckedAsync("update", id, cancellationToken, "update", "--resources", resourcesFile, id);

    /// <summary>crun exec --detach with the process's stdio pipes (no terminal).</summary>
    public async Task ExecWithStdioAsync(string id, string processFile, string pidFile, string log, (int Stdin, int Stdout, int Stderr) stdio,
        CancellationToken cancellationToken)
    {
        File.Delete(log);
        var status = await _runner.RunWithStdioAsync(
            Argv(log, "exec", "--detach", "--pid-file", pidFile, "--process", processFile, id),
            stdio.Stdin, stdio.Stdout, stdio.Stderr, DefaultTimeout, cancellationToken).ConfigureAwait(false);
        if (status != 0)
        {
            throw Failure("exec", id, status, ReadLog(log));
        }
    }

    /// <summary>crun exec --detach --tty: the pty master goes to <paramref name="consoleSocket"/>.</summary>
    public Task ExecWithConsoleAsync(string id, string processFile, string pidFile, string consoleSocket, CancellationToken cancellationToken) =>
        RunCheckedAsync("exec", id, cancellationToken,
            "exec", "--detach", "--tty", "--console-socket", consoleSocket, "--pid-file", pidFile, "--process", processFile, id);

    private async Task RunCheckedAsync(string operation, string id, CancellationToken cancellationToken, params string[] args)
    {
        var argv = GlobalArguments();
        argv.AddRange(args);
        var result = await _runner.RunAsync(argv, DefaultTimeout, cancellationToken).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            throw Failure(operation, id, result.ExitStatus, result.Diagnostics);
        }
    }

    private List<string> Argv(string log, params string[] args)
    {
        var argv = GlobalArguments();
        argv.AddRange(["--log", log]);
        argv.AddRange(args);
        return argv;
    }

    private List<string> GlobalArguments()
    {
        var argv = new List<string> { _crun, "--root", _root };
        if (_cgroupManager is not null)
        {
            argv.Add($"--cgroup-manager={_cgroupManager}");
        }

        return argv;
    }

    private static string ReadLog(string log)
    {
        try
        {
            return File.Exists(log) ? File.ReadAllText(log).Trim() : string.Empty;
        }
        catch (IOException)
        {
            return string.Empty;
        }
    }

    private static CrunException Failure(string operation, string id, int status, string message) =>
        new(operation, $"crun {operation} {id} failed (exit status {status}): {(message.Length > 0 ? message : "no message")}");
}

/// <summary>A crun subcommand that exited non-zero.</summary>
internal sealed class CrunException(string operation, string message) : Exception(message)
{
    public string Operation { get; } = operation;
}

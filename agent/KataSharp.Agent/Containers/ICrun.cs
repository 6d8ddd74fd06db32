namespace KataSharp.Agent.Containers;

/// <summary>
/// The crun subcommands the container lifecycle needs: the seam between the agent's own logic and
/// the process that runs containers, so the RPC handlers can be exercised (and fuzzed) without one.
/// </summary>
internal interface ICrun
{
    Task CreateWithStdioAsync(string id, string bundle, string pidFile, (int Stdin, int Stdout, int Stderr) stdio, CancellationToken cancellationToken);

    Task CreateWithConsoleAsync(string id, string bundle, string pidFile, string consoleSocket, CancellationToken cancellationToken);

    Task StartAsync(string id, CancellationToken cancellationToken);

    Task KillAsync(string id, int signal, bool all, CancellationToken cancellationToken);

    Task DeleteAsync(string id, CancellationToken cancellationToken);

    Task PauseAsync(string id, CancellationToken cancellationToken);

    Task ResumeAsync(string id, CancellationToken cancellationToken);

    Task UpdateAsync(string id, string resourcesFile, CancellationToken cancellationToken);

    Task ExecWithStdioAsync(string id, string processFile, string pidFile, string log, (int Stdin, int Stdout, int Stderr) stdio, CancellationToken cancellationToken);

    Task ExecWithConsoleAsync(string id, string processFile, string pidFile, string consoleSocket, CancellationToken cancellationToken);
}

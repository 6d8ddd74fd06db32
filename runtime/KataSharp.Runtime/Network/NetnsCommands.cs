namespace KataSharp.Runtime.Network;

/// <summary>Running a command that must succeed.</summary>
public static class NetnsCommands
{
    /// <returns>The command's stdout.</returns>
    /// <exception cref="NetworkException">It failed: the message has the command, the namespace and the tool's error.</exception>
    public static async Task<string> RunCheckedAsync(this INetnsCommandRunner runner, string? netnsPath, IReadOnlyList<string> command,
        CancellationToken cancellationToken, NetworkErrorKind kind = NetworkErrorKind.Internal)
    {
        var result = await runner.RunAsync(netnsPath, command, cancellationToken).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            var error = result.Stderr.Trim();
            throw new NetworkException($"{NetnsCommandRunner.Describe(netnsPath, command)} failed (exit {result.ExitCode}): {(error.Length > 0 ? error : result.Stdout.Trim())}", kind);
        }

        return result.Stdout;
    }
}

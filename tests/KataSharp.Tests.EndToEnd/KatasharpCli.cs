using System.Diagnostics;

namespace KataSharp.Tests.EndToEnd;

/// <summary>The katasharp CLI from build/bin, run to its end within a deadline.</summary>
public static class KatasharpCli
{
    /// <exception cref="TimeoutException">It ran longer than <paramref name="timeout"/>; it and its children were killed.</exception>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(TimeSpan timeout, params string[] args)
    {
        var start = new ProcessStartInfo(Path.Combine(BuildArtifacts.Bin, "katasharp"), args)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"katasharp {string.Join(' ', args)} did not finish in {timeout}");
        }

        return (process.ExitCode, await stdout, await stderr);
    }
}

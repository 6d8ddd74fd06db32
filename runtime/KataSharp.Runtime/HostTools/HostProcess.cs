using System.Diagnostics;
using KataSharp.Native.Processes;

namespace KataSharp.Runtime.HostTools;

/// <summary>What a host program printed (each stream capped, see <see cref="BoundedCapture"/>) and how it ended.</summary>
public sealed record HostProcessResult(int ExitCode, BoundedCapture Stdout, BoundedCapture Stderr)
{
    /// <summary>Both streams' text, each with a note when it was cut short.</summary>
    public string Output => Stdout.Text() + Stderr.Text();
}

/// <summary>
/// Runs a short-lived host program (containerd --version, busybox --list-full, systemctl) to completion
/// within a deadline. Both pipes are drained until the end, keeping at most a bound of each, so a program
/// that floods its output neither grows our memory nor blocks on a full pipe.
/// </summary>
public static class HostProcess
{
    /// <summary>What is kept of each stream unless the caller says less: these programs answer in a few lines.</summary>
    public const int DefaultMaxCapturedBytes = 1024 * 1024;

    /// <exception cref="TimeoutException">It ran longer than <paramref name="timeout"/>; it and its descendants were killed.</exception>
    /// <exception cref="System.ComponentModel.Win32Exception">The program could not be started.</exception>
    public static async Task<HostProcessResult> RunAsync(string file, IReadOnlyList<string> args, TimeSpan timeout, CancellationToken cancellationToken,
        int maxCapturedBytes = DefaultMaxCapturedBytes)
    {
        var start = new ProcessStartInfo(file, args)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{file} did not start");
        process.StandardInput.Close();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        var stdout = new BoundedCapture(maxCapturedBytes);
        var stderr = new BoundedCapture(maxCapturedBytes);
        var drained = Task.WhenAll(
            stdout.DrainAsync(process.StandardOutput.BaseStream, deadline.Token),
            stderr.DrainAsync(process.StandardError.BaseStream, deadline.Token));
        try
        {
            await process.WaitForExitAsync(deadline.Token).ConfigureAwait(false);
            await drained.ConfigureAwait(false);
            return new HostProcessResult(process.ExitCode, stdout, stderr);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            // The reads end with the kill (or the deadline); waiting keeps them from outliving the process object.
            await Task.WhenAny(drained).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish in {timeout.TotalSeconds:0.#} s");
        }
    }
}

using System.Diagnostics;
using System.Text;
using KataSharp.Native;

namespace KataSharp.Tests.Integration.Infrastructure;

/// <summary>What a katasharp command did.</summary>
public sealed record CliResult(int ExitCode, byte[] StdoutBytes, string Stderr)
{
    public string Stdout => Encoding.UTF8.GetString(StdoutBytes);

    public override string ToString() => $"exit {ExitCode}\n--- stdout ---\n{Stdout}\n--- stderr ---\n{Stderr}";
}

/// <summary>
/// Runs the built <c>build/bin/katasharp</c> as a user would, with $KATASHARP_CONFIG naming this run's
/// configuration (private state directory, the build's guest). A command that outlives the hang guard
/// is killed and fails the test.
/// </summary>
public static class KatasharpCli
{
    public static Task<CliResult> RunAsync(params string[] args) => RunAsync(args, stdin: null);

    public static Task<CliResult> RunAsync(IReadOnlyList<string> args, byte[]? stdin) =>
        RunProcessAsync(TestEnvironment.CliPath, args, stdin);

    /// <summary>Runs any program with the CLI's environment (e.g. script(1) wrapping katasharp for a pty).</summary>
    public static async Task<CliResult> RunProcessAsync(string program, IReadOnlyList<string> args, byte[]? stdin)
    {
        TestEnvironment.RequirePrerequisites();
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["KATASHARP_CONFIG"] = TestEnvironment.ConfigPath;
        start.Environment.Remove("KATASHARP_DEBUG");
        TestLog.Write($"$ {program} {string.Join(' ', args)}");
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {program}");
        var stdout = new MemoryStream();
        var stdoutTask = process.StandardOutput.BaseStream.CopyToAsync(stdout);
        var stderrTask = process.StandardError.ReadToEndAsync();
        var stdinTask = Task.Run(async () =>
        {
            try
            {
                if (stdin is not null)
                {
                    await process.StandardInput.BaseStream.WriteAsync(stdin);
                }

                process.StandardInput.Close();
            }
            catch (IOException)
            {
                // The command exited without reading all of its stdin; its exit status tells the test.
            }
        });

        using var timeout = new CancellationTokenSource(TestEnvironment.OperationTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
            await Task.WhenAll(stdoutTask, stderrTask, stdinTask).WaitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            // SIGTERM first: the CLI tears its sandbox down on it, which is what we want even when it hangs.
            _ = Libc.Kill(process.Id, Linux.SIGTERM);
            if (!process.WaitForExit(TimeSpan.FromSeconds(30)))
            {
                process.Kill(entireProcessTree: true);
            }

            throw new TimeoutException($"{program} {string.Join(' ', args)} did not finish within {TestEnvironment.OperationTimeout.TotalSeconds} s");
        }

        var result = new CliResult(process.ExitCode, stdout.ToArray(), await stderrTask);
        TestLog.Write($"-> {result}");
        return result;
    }
}

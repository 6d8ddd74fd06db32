using System.Diagnostics;
using KataSharp.Tests.Integration.Infrastructure;

namespace KataSharp.Tests.Integration.Network;

/// <summary>What a host command did.</summary>
public sealed record HostCommandResult(int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => $"exit {ExitCode}\n--- stdout ---\n{Stdout}\n--- stderr ---\n{Stderr}";
}

/// <summary>Runs host tools (ip, tc, iptables, nsenter, CNI plugins, katasharp) for the network tests, with a hang guard.</summary>
public static class HostCommand
{
    public static Task<HostCommandResult> RunAsync(params string[] argv) => RunAsync(argv, null, null);

    /// <summary>Runs <paramref name="argv"/> in the network namespace at <paramref name="netns"/>.</summary>
    public static Task<HostCommandResult> InNetnsAsync(string netns, params string[] argv) => RunAsync(["nsenter", $"--net={netns}", "--", .. argv], null, null);

    public static async Task<HostCommandResult> RunAsync(IReadOnlyList<string> argv, string? stdin, IReadOnlyDictionary<string, string>? environment,
        TimeSpan? timeout = null)
    {
        var start = new ProcessStartInfo(argv[0])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in argv.Skip(1))
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["LC_ALL"] = "C";
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {argv[0]}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin);
        }

        process.StandardInput.Close();
        using var guard = new CancellationTokenSource(timeout ?? TestEnvironment.OperationTimeout);
        try
        {
            await process.WaitForExitAsync(guard.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{string.Join(' ', argv)} did not finish");
        }

        var result = new HostCommandResult(process.ExitCode, await stdout, await stderr);
        TestLog.Write($"$ {string.Join(' ', argv)} -> {result.ExitCode}");
        return result;
    }

    /// <summary>Runs a command that must succeed; returns its stdout.</summary>
    public static async Task<string> CheckedAsync(params string[] argv)
    {
        var result = await RunAsync(argv);
        Assert.True(result.ExitCode == 0, $"{string.Join(' ', argv)}: {result}");
        return result.Stdout;
    }
}

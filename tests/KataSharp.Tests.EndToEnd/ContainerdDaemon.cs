using System.Diagnostics;
using System.Text;

namespace KataSharp.Tests.EndToEnd;

/// <summary>
/// A Debian containerd (see <see cref="ContainerdRelease"/>) on a private root, state directory and
/// socket, so that tests never touch (or depend on) a containerd the machine may already run.
/// </summary>
public sealed class ContainerdDaemon : IAsyncDisposable
{
    /// <summary>Where each daemon's log is also written, to outlive the test (the soak sets it): its shims log into it too.</summary>
    public const string LogDirectoryVariable = "KATASHARP_E2E_LOG_DIR";

    private readonly StringBuilder _log = new();
    private StreamWriter? _logFile;
    private readonly ProcessStartInfo _start;
    private Process _process;

    private ContainerdDaemon(ContainerdRelease release, string dir, ProcessStartInfo start)
    {
        Release = release;
        Directory_ = dir;
        _start = start;
        if (Environment.GetEnvironmentVariable(LogDirectoryVariable) is { Length: > 0 } logs)
        {
            Directory.CreateDirectory(logs);
            LogFile = Path.Combine(logs, $"{Path.GetFileName(dir)}.log");
            _logFile = new StreamWriter(LogFile, append: true) { AutoFlush = true };
            _logFile.WriteLine($"# {release}, {dir}");
        }

        _process = Launch();
    }

    private Process Launch()
    {
        var process = Process.Start(_start) ?? throw new InvalidOperationException("containerd did not start");
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        return process;
    }

    private void Append(string? line)
    {
        lock (_log)
        {
            _log.AppendLine(line);
            _logFile?.WriteLine(line);
        }
    }

    /// <summary>The file the log is also written to, when <see cref="LogDirectoryVariable"/> names a directory.</summary>
    public string? LogFile { get; }

    public ContainerdRelease Release { get; }

    public string Directory_ { get; }

    public string Address => Path.Combine(Directory_, "c.sock");

    public string TtrpcAddress => Address + ".ttrpc";

    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    /// <param name="extraConfig">TOML appended to the generated config, such as runtime tables.</param>
    /// <param name="disabledPlugins">Plugins not to load, as containerd names them.</param>
    /// <param name="environment">Variables added to containerd's environment, which its shims inherit.</param>
    /// <param name="release">Which containerd; bookworm's by default.</param>
    /// <param name="imports">Config files containerd merges into the generated one.</param>
    public static async Task<ContainerdDaemon> StartAsync(string extraConfig = "", IEnumerable<string>? disabledPlugins = null,
        IReadOnlyDictionary<string, string>? environment = null, ContainerdRelease? release = null, IEnumerable<string>? imports = null)
    {
        release ??= ContainerdRelease.Bookworm;
        // Short path: Unix socket paths are limited to 108 bytes, and containerd appends to it.
        var dir = Directory.CreateTempSubdirectory(TestbedLeftovers.DirectoryPrefix("ksctd", Environment.ProcessId)).FullName;
        var disabled = string.Join(", ", (disabledPlugins ?? []).Select(p => $"\"{p}\""));
        var imported = string.Join(", ", (imports ?? []).Select(p => $"\"{p}\""));
        var config = $$"""
            version = {{release.ConfigVersion}}
            imports = [{{imported}}]
            root = "{{dir}}/root"
            state = "{{dir}}/state"
            disabled_plugins = [{{disabled}}]

            [grpc]
              address = "{{dir}}/c.sock"

            {{extraConfig}}
            """;
        var configPath = Path.Combine(dir, "config.toml");
        await File.WriteAllTextAsync(configPath, config);

        var start = new ProcessStartInfo(release.Containerd, ["--config", configPath, "--log-level", "info"])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        var daemon = new ContainerdDaemon(release, dir, start);
        try
        {
            await daemon.WaitUntilServingAsync();
        }
        catch
        {
            await daemon.DisposeAsync();
            throw;
        }

        return daemon;
    }

    /// <summary>
    /// Kills containerd (SIGKILL, as a crash or an OOM kill would) and starts it again on the same root,
    /// state, sockets and environment. Shims are not its children to take along: they keep running.
    /// </summary>
    public async Task RestartAsync()
    {
        _process.Kill();
        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        _process.Dispose();
        _process = Launch();
        await WaitUntilServingAsync();
    }

    private async Task WaitUntilServingAsync()
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"{Release} exited with {_process.ExitCode}:\n{Log}");
            }

            if (File.Exists(Address) && File.Exists(TtrpcAddress))
            {
                var (code, _, _) = await CtrAsync(["version"], TimeSpan.FromSeconds(10));
                if (code == 0)
                {
                    return;
                }
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{Release} did not become ready in 60 s:\n{Log}");
            }

            await Task.Delay(100);
        }
    }

    /// <summary>Runs <c>ctr</c> against this daemon and returns its exit code and output.</summary>
    public async Task<(int ExitCode, string Stdout, string Stderr)> CtrAsync(IEnumerable<string> args, TimeSpan timeout)
    {
        using var process = Process.Start(CtrStartInfo(args)) ?? throw new InvalidOperationException("ctr did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"ctr {string.Join(' ', args)} did not finish in {timeout}");
        }

        return (process.ExitCode, await stdout, await stderr);
    }

    public ProcessStartInfo CtrStartInfo(IEnumerable<string> args)
    {
        var start = new ProcessStartInfo(Release.Ctr)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("--address");
        start.ArgumentList.Add(Address);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        return start;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        }

        _process.Dispose();
        lock (_log)
        {
            _logFile?.Dispose();
            _logFile = null;
        }

        try
        {
            Directory.Delete(Directory_, recursive: true);
        }
        catch (IOException)
        {
            // A mount containerd left behind keeps its directory busy; the test that made it reports that.
        }
    }
}

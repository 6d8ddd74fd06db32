using System.Diagnostics;
using System.Security.Cryptography;
using KataSharp.Runtime.Configuration;

namespace KataSharp.Benchmarks;

/// <summary>
/// The CLI with a private configuration and state directory (never the host's /run/katasharp), over the
/// kernel, initrd and images of one build; disposing removes both directories once nothing is mounted under them.
/// </summary>
internal sealed class PrivateSandbox : IAsyncDisposable
{
    private PrivateSandbox(string cliPath, string work, string stateDir, string configPath, KataSharpConfig config)
    {
        CliPath = cliPath;
        Work = work;
        StateDir = stateDir;
        ConfigPath = configPath;
        Config = config;
    }

    public string CliPath { get; }

    public string Work { get; }

    public string StateDir { get; }

    public string ConfigPath { get; }

    public KataSharpConfig Config { get; }

    public string Kernel => Config.Hypervisor.Kernel;

    /// <param name="hypervisor">More keys under <c>hypervisor:</c> (YAML, indented by two), e.g. a TCG cache size.</param>
    /// <param name="guest">Keys under <c>guest:</c> (YAML, indented by two), e.g. how the guest's root reaches it.</param>
    public static async Task<PrivateSandbox> CreateAsync(string build, string prefix, string hypervisor = "", string guest = "")
    {
        build = Path.GetFullPath(build);
        var cli = Path.Combine(build, "bin", "katasharp");
        var kernel = Path.Combine(build, "guest", "vmlinux");
        var initrd = Path.Combine(build, "guest", "initrd.img");
        foreach (var file in new[] { cli, kernel, initrd, Path.Combine(build, "images", "busybox.oci.tar") })
        {
            if (!File.Exists(file))
            {
                throw new FileNotFoundException($"{file} is missing; run ./build.sh build && ./build.sh image", file);
            }
        }

        var work = Directory.CreateTempSubdirectory(prefix).FullName;
        var stateDir = $"/run/katasharp-bench-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}";
        var configPath = Path.Combine(work, "katasharp.yaml");
        var yaml = $"""
            hypervisor:
              {GuestKeys(build)}
              {hypervisor}
            runtime:
              stateDir: "{stateDir}"
            """ + (guest.Length > 0 ? $"\nguest:\n  {guest}\n" : "");
        await File.WriteAllTextAsync(configPath, yaml);
        return new PrivateSandbox(cli, work, stateDir, configPath, ConfigLoader.Parse(yaml, configPath));
    }

    /// <summary>
    /// The <c>hypervisor:</c> keys (indented by two after the first line) that boot this build's default guest: its kernel,
    /// its initrd and, with our kernel, its root image.
    /// </summary>
    public static string GuestKeys(string build)
    {
        var guest = Path.Combine(Path.GetFullPath(build), "guest");
        var image = Path.Combine(guest, "root.img");
        return $"kernel: \"{Path.Combine(guest, "vmlinux")}\"\n  initrd: \"{Path.Combine(guest, "initrd.img")}\""
            + (File.Exists(image) ? $"\n  image: \"{image}\"" : "");
    }

    /// <summary>The CLI with these arguments, every stream redirected, under this configuration.</summary>
    public ProcessStartInfo Cli(params string[] args)
    {
        var start = new ProcessStartInfo(CliPath) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["KATASHARP_CONFIG"] = ConfigPath;
        return start;
    }

    /// <summary>The CLI with these arguments and no stdin: its stdout, or an exception when it fails or outlasts <paramref name="guard"/>.</summary>
    public async Task<string> RunAsync(TimeSpan guard, params string[] args)
    {
        using var process = Process.Start(Cli(args))!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(guard);
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"katasharp {string.Join(' ', args)} outlasted {guard}");
        }

        return process.ExitCode == 0
            ? await stdout
            : throw new InvalidOperationException($"katasharp {string.Join(' ', args)}: exit {process.ExitCode}: {await stdout}{await stderr}");
    }

    public ValueTask DisposeAsync()
    {
        var mounted = File.ReadLines("/proc/self/mountinfo").Any(l => l.Split(' ') is { Length: > 4 } f && f[4].StartsWith(StateDir, StringComparison.Ordinal));
        if (Directory.Exists(StateDir) && !mounted)
        {
            Directory.Delete(StateDir, recursive: true);
        }
        else if (mounted)
        {
            Console.Error.WriteLine($"warning: mounts remain under {StateDir}; left in place");
        }

        Directory.Delete(Work, recursive: true);
        return ValueTask.CompletedTask;
    }
}

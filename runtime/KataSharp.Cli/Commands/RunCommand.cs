using KataSharp.Runtime.Configuration;
using KataSharp.Runtime.Images;
using KataSharp.Runtime.Network;
using KataSharp.Runtime.Sandbox;
using KataSharp.Runtime.Storage;
using Microsoft.Extensions.Logging;

namespace KataSharp.Cli.Commands;

/// <summary>
/// <c>katasharp run</c>: boots a sandbox, runs one command as its container with stdio connected,
/// returns the command's exit code, and removes the sandbox (unless --keep).
/// </summary>
internal static partial class RunCommand
{
    public static readonly CommandSyntax Syntax = new()
    {
        Name = "run",
        Summary = "Boot a sandbox VM and run a command in it",
        Arguments = "[OPTIONS] [--] COMMAND [ARG...]",
        Description = "Boot a sandbox VM, run COMMAND in it, and exit with its exit code (127: no such command, 126: it cannot be run).",
        StopAtFirstPositional = true,
        Options =
        [
            CliOption.Value("name", "ID", "sandbox and container id (default: random)"),
            .. ImageOptions.Options,
            CliOption.Value("rootfs", "DIR", "use DIR as the container's root filesystem instead of an image"),
            CliOption.Value("cpus", "N", "CPUs for the job (VM vCPUs and the container's CPU limit)"),
            CliOption.Value("memory", "SIZE", "memory for the job, e.g. 512M or 1G (the VM gets 128M more)"),
            CliOption.Value("timeout", "DURATION", "kill the job after DURATION (e.g. 30s, 5m) and exit 124"),
            CliOption.Value("env", "K=V", "set an environment variable (repeatable; wins over --env-file)", 'e'),
            CliOption.Value("env-file", "FILE", "read KEY=VALUE lines from FILE ('#' comments; a bare KEY takes the host's value)"),
            CliOption.Value("entrypoint", "CMD", "run CMD instead of the image's entrypoint; COMMAND [ARG...] become its arguments"),
            CliOption.Value("user", "U[:G]", "run as uid or name, with gid or group (names from the image's /etc/passwd and /etc/group)", 'u'),
            CliOption.Value("network", "MODE", "auto (default): a private network namespace with eth0 on a /30 of\n10.213.0.0/16 and NAT to the outside where the host allows it;\nnone: no NIC at all, only lo"),
            CliOption.Value("volume", "H:G[:ro]", "bind-mount host path H at G in the container (repeatable)", 'v'),
            CliOption.Value("workdir", "DIR", "working directory in the container", 'w'),
            CliOption.Flag("tty", "allocate a terminal", 't'),
            CliOption.Flag("interactive", "forward stdin", 'i'),
            CliOption.Flag("keep", "keep the sandbox after the command exits (see logs, rm)"),
            CliOption.Flag("detach", "start the command, print the id and return, keeping the sandbox\n(see exec, ps, kill, rm -f); its output is discarded", 'd'),
        ],
    };

    /// <summary>The VM's memory beyond the job's: kernel, agent and page cache need room of their own.</summary>
    private const int MemoryOverheadMiB = 128;

    public static async Task<int> ExecuteAsync(GlobalOptions global, IReadOnlyList<string> args, CancellationToken shutdown)
    {
        var started = Environment.TickCount64;
        var reader = Syntax.Parse(args);
        if (Syntax.PrintedHelp(reader))
        {
            return 0;
        }

        var command = reader.Positionals.Concat(reader.Rest).ToList();
        if (reader.Has("image") && reader.Has("rootfs"))
        {
            throw new UsageException("run: --image and --rootfs cannot be used together");
        }

        var id = reader.Get("name") ?? SandboxManager.NewId();
        SandboxPaths.ValidateId(id);
        var cpus = reader.Get("cpus") is { } c ? ValueParsers.ParseCpus(c, "--cpus") : (double?)null;
        var memoryBytes = reader.Get("memory") is { } m ? ValueParsers.ParseSize(m, "--memory") : (long?)null;
        if (memoryBytes is < 16L << 20)
        {
            throw new UsageException("run: --memory must be at least 16M");
        }

        var timeout = reader.Get("timeout") is { } t ? ValueParsers.ParseDuration(t, "--timeout") : (TimeSpan?)null;
        var user = reader.Get("user") is { } u ? ValidateUser(u) : null;
        var entrypoint = reader.Get("entrypoint");
        var env = reader.GetAll("env-file").SelectMany(EnvFile.Read).ToList();
        env.AddRange(reader.GetAll("env").Select(e => e.Contains('=', StringComparison.Ordinal) ? e : throw new UsageException($"run: --env '{e}' must be KEY=VALUE")));
        List<VolumeSpec> volumes;
        try
        {
            volumes = reader.GetAll("volume").Select(VolumeSpec.Parse).ToList();
        }
        catch (FormatException e)
        {
            throw new UsageException($"run: {e.Message}");
        }

        foreach (var volume in volumes.Where(v => !Path.Exists(v.HostPath)))
        {
            throw new UsageException($"run: volume source {volume.HostPath} does not exist");
        }

        var rootfsOption = reader.Get("rootfs") is { } r ? Path.GetFullPath(r) : null;
        if (rootfsOption is not null && !Directory.Exists(rootfsOption))
        {
            throw new UsageException($"run: --rootfs {rootfsOption} is not a directory");
        }

        if (rootfsOption is not null && command.Count == 0 && string.IsNullOrEmpty(entrypoint))
        {
            throw new UsageException("run: give a COMMAND to run in --rootfs");
        }

        var image = rootfsOption is null ? ImageOptions.Parse(reader) : null;

        var network = ParseNetwork(reader.Get("network"));
        var terminal = reader.Has("tty");
        var interactive = reader.Has("interactive");
        var detachRun = reader.Has("detach");
        var keep = reader.Has("keep") || detachRun;
        if (detachRun && (interactive || terminal || timeout is not null))
        {
            throw new UsageException("run: --detach cannot be combined with -i, -t or --timeout");
        }

        using var context = CliContext.Create(global, reader);
        var logger = context.Logger;
        using var timeoutSource = new CancellationTokenSource();
        if (timeout is { } limit)
        {
            timeoutSource.CancelAfter(limit);
        }

        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(shutdown, timeoutSource.Token);
        var imageConfig = new ImageConfig();

        // With a network, the guest resolves names as the host does (loopback resolvers left out).
        var dns = network.Mode == SandboxNetworkMode.None ? HostDns.Empty : HostDns.FromResolvConf();
        if (dns.Warning is { } dnsWarning)
        {
            System.Console.Error.WriteLine($"katasharp: warning: {dnsWarning}");
        }
        Sandbox sandbox;
        try
        {
            sandbox = await context.Manager.CreateAsync(new SandboxOptions
            {
                Id = id,
                Vcpus = cpus is { } n ? (int)Math.Ceiling(n) : null,
                MemoryMiB = memoryBytes is { } bytes ? (int)((bytes + (1 << 20) - 1) >> 20) + MemoryOverheadMiB : null,
                Network = network,
                DnsServers = dns.Servers,
                DnsSearches = dns.Searches,
                DnsOptions = dns.Options,
                // The image is pulled (or found in the cache) and its overlay mounted while the VM boots.
                WhileBooting = image is null ? null : async (paths, ct) =>
                    imageConfig = await image.MountAsync(context, paths.Rootfs(id), Path.Combine(paths.Directory, "overlay", id), ct).ConfigureAwait(false),
            }, cancel.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (timeoutSource.IsCancellationRequested && !shutdown.IsCancellationRequested)
        {
            System.Console.Error.WriteLine($"katasharp: timed out after {reader.Get("timeout")} while starting the sandbox");
            return Program.TimedOut;
        }

        var exitCode = Program.RuntimeError;
        var bootDone = Environment.TickCount64;
        ProcessIo? io = null;
        var detach = false;
        try
        {
            var rootfs = rootfsOption ?? sandbox.Paths.Rootfs(id);
            command = ResolveCommand(entrypoint, command, imageConfig);

            var spec = DefaultSpec.Create(new SpecOptions
            {
                Args = command,
                Env = MergeEnv(imageConfig.Env, env),
                Cwd = reader.Get("workdir") ?? (imageConfig.WorkingDir.Length > 0 ? imageConfig.WorkingDir : "/"),
                Terminal = terminal,
                User = ImageUser.Resolve(rootfs, user ?? imageConfig.User),
                Hostname = id[..Math.Min(12, id.Length)],
                MemoryLimitBytes = memoryBytes,
                CpuLimit = cpus,
            });
            foreach (var volume in volumes)
            {
                DefaultSpec.AddBindMount(spec, volume.HostPath, volume.ContainerPath, volume.ReadOnly);
            }

            // As containerd's CRI and Docker do: the container's resolv.conf is a file from the host, bound read-only. Into a
            // user's --rootfs only when it has one to cover: a missing target would be created in the user's directory.
            if (network.Mode != SandboxNetworkMode.None && !volumes.Any(v => v.ContainerPath.TrimEnd('/') == "/etc/resolv.conf")
                && (rootfsOption is null || File.Exists(Path.Combine(rootfs, "etc", "resolv.conf"))))
            {
                var resolvConf = Path.Combine(sandbox.Paths.Directory, "resolv.conf");
                await File.WriteAllTextAsync(resolvConf, dns.Render(), cancel.Token).ConfigureAwait(false);
                DefaultSpec.AddBindMount(spec, resolvConf, "/etc/resolv.conf", readOnly: true);
            }

            var container = await sandbox.CreateContainerAsync(new ContainerOptions
            {
                Id = id,
                Spec = spec,
                RootfsDirectory = rootfs,
                Stdin = interactive,
                Terminal = terminal,
                // A detached job has no reader: the agent drains and drops its output.
                Stdout = !detachRun,
                Stderr = !terminal && !detachRun,
            }, cancel.Token).ConfigureAwait(false);
            await container.StartAsync(cancel.Token).ConfigureAwait(false);
            var containerStarted = Environment.TickCount64;
            if (detachRun)
            {
                System.Console.WriteLine(id);
                detach = true;
                return exitCode = 0;
            }

            io = new ProcessIo(container.Init);
            io.Start(interactive, keep ? sandbox.Paths.OutputLog(id) : null);
            var wait = container.Init.WaitAsync(cancel.Token);
            var finished = await Task.WhenAny(wait, sandbox.Exited).ConfigureAwait(false);
            if (finished != wait)
            {
                var exit = await sandbox.Exited.ConfigureAwait(false);
                System.Console.Error.WriteLine($"katasharp: the sandbox VM died while the job ran ({exit}); guest console: {sandbox.Paths.ConsoleLog}");
                exitCode = Program.RuntimeError;
            }
            else
            {
                var result = await wait.ConfigureAwait(false);
                await io.DrainAsync().ConfigureAwait(false);
                exitCode = result.ExitCode;
                if (result.OomKilled)
                {
                    System.Console.Error.WriteLine("katasharp: the job was killed for running out of memory");
                }

                if (keep)
                {
                    container.RecordExit(result);
                }
            }

            if (context.Verbose)
            {
                var firstOutput = io.FirstOutputTicks;
                System.Console.Error.WriteLine(
                    $"katasharp: timing: vmm {Ms(sandbox.Timings?.VmmReady)} ms, agent ready {Ms(sandbox.Timings?.AgentReady)} ms, " +
                    $"sandbox {bootDone - started} ms, container started {containerStarted - started} ms, " +
                    $"first output {(firstOutput == 0 ? "-" : (firstOutput - started).ToString(System.Globalization.CultureInfo.InvariantCulture))} ms, " +
                    $"exit {Environment.TickCount64 - started} ms");
            }

            detach = keep;
            return exitCode;
        }
        catch (OperationCanceledException) when (timeoutSource.IsCancellationRequested && !shutdown.IsCancellationRequested)
        {
            System.Console.Error.WriteLine($"katasharp: the job timed out after {reader.Get("timeout")}; killed it");
            return Program.TimedOut;
        }
        finally
        {
            if (io is not null)
            {
                await io.DisposeAsync().ConfigureAwait(false);
            }

            if (detach)
            {
                await sandbox.DetachAsync().ConfigureAwait(false);
                if (!detachRun)
                {
                    System.Console.Error.WriteLine($"katasharp: kept sandbox {id} (katasharp logs {id}; katasharp rm {id})");
                }
            }
            else
            {
                // Teardown must finish even when we are here because of Ctrl-C or the timeout.
                using var teardown = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                await sandbox.DestroyAsync(teardown.Token).ConfigureAwait(false);
            }

            LogDone(logger, id, exitCode, Environment.TickCount64 - started);
        }
    }

    internal static SandboxNetworkRequest ParseNetwork(string? mode) => mode switch
    {
        null or "auto" or "default" => SandboxNetworkRequest.Nat,
        "none" => SandboxNetworkRequest.None,
        _ => throw new UsageException($"run: --network must be auto or none, not '{mode}'"),
    };

    /// <summary>
    /// What the container runs. Without --entrypoint, COMMAND as given, or the image's Entrypoint and Cmd; with it, as docker
    /// does, the entrypoint with COMMAND as its arguments (the image's Cmd is dropped); --entrypoint "" clears the image's.
    /// </summary>
    /// <exception cref="UsageException">Nothing to run.</exception>
    internal static List<string> ResolveCommand(string? entrypoint, IReadOnlyList<string> command, ImageConfig image)
    {
        List<string> resolved = entrypoint switch
        {
            null => command.Count > 0 ? [.. command] : [.. image.Entrypoint, .. image.Cmd],
            "" => command.Count > 0 ? [.. command] : [.. image.Cmd],
            _ => [entrypoint, .. command],
        };
        return resolved.Count > 0 ? resolved : throw new UsageException("run: no COMMAND given and the image has no Cmd or Entrypoint");
    }

    /// <summary>uid[:gid] or name[:group]; names are looked up in the image once its rootfs is there.</summary>
    /// <exception cref="UsageException">An empty user or group, or more than one ':'.</exception>
    internal static string ValidateUser(string user)
    {
        var parts = user.Split(':');
        return parts.Length <= 2 && parts.All(p => p.Length > 0 && !p.Any(char.IsWhiteSpace))
            ? user
            : throw new UsageException($"run: --user '{user}' must be uid[:gid] or name[:group]");
    }

    private static string Ms(TimeSpan? span) => span is { } s ? ((long)s.TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture) : "-";

    /// <summary>The image's environment with the command line's on top (same key: the command line wins).</summary>
    internal static List<string> MergeEnv(IEnumerable<string> image, IEnumerable<string> overrides)
    {
        var merged = new List<string>();
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var entry in image.Concat(overrides))
        {
            var key = entry.Split('=', 2)[0];
            if (index.TryGetValue(key, out var at))
            {
                merged[at] = entry;
            }
            else
            {
                index[key] = merged.Count;
                merged.Add(entry);
            }
        }

        return merged;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "run {SandboxId} finished with exit code {ExitCode} after {ElapsedMs} ms")]
    private static partial void LogDone(ILogger logger, string sandboxId, int exitCode, long elapsedMs);
}

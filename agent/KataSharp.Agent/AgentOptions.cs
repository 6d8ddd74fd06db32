namespace KataSharp.Agent;

/// <summary>
/// How the agent runs. As PID 1 in the guest everything has its default; in developer mode
/// (not PID 1) the flags let it run on a host without touching the host's /etc, clock or mounts.
/// </summary>
internal sealed record AgentOptions
{
    public const string DefaultSharedDir = "/run/katasharp/shared";

    /// <summary>PID 1 of the guest: mount, load modules, own the machine, power off at the end.</summary>
    public bool IsInit { get; init; }

    /// <summary>A Unix socket path to serve on as well ("--listen unix:/path").</summary>
    public string? ListenUnix { get; init; }

    /// <summary>The shared directory when the host does not mount one ("--shared-dir DIR").</summary>
    public string? SharedDirOverride { get; init; }

    /// <summary>The agent's state: bundles, console sockets.</summary>
    public string RunDir { get; init; } = "/run/katasharp";

    /// <summary>crun's --root.</summary>
    public string CrunRoot { get; init; } = "/run/crun";

    /// <summary>
    /// Where hostname, resolv.conf and hosts are written. The guest's root is read-only (an image), so its
    /// /etc/{hostname,resolv.conf,hosts} are links into this directory (guest-image/build.sh makes them).
    /// </summary>
    public string EtcDir { get; init; } = "/run/katasharp/etc";

    public string? CrunPath { get; init; }

    /// <summary>
    /// crun's --cgroup-manager, for hosts where crun cannot manage cgroups ("disabled");
    /// null leaves crun's default (cgroupfs), which is what the guest uses.
    /// </summary>
    public string? CrunCgroupManager { get; init; }

    /// <summary>Listen on vsock port 1024. On by default only as PID 1: a developer host may itself be a vsock guest.</summary>
    public bool EnableVsock { get; init; } = true;

    /// <summary>Serve virtio-serial ports named katasharp.agent. On by default only as PID 1.</summary>
    public bool EnableSerial { get; init; } = true;

    public IReadOnlyList<string> Warnings { get; init; } = [];

    public string ContainersDir => Path.Combine(RunDir, "containers");

    public string ConsoleSocketsDir => Path.Combine(RunDir, "console");

    /// <summary>
    /// Parses the command line. The kernel passes unknown boot parameters to init as arguments,
    /// so unknown ones are reported as warnings, never fatal.
    /// </summary>
    public static AgentOptions Parse(IReadOnlyList<string> args, bool isInit)
    {
        var options = new AgentOptions { IsInit = isInit };
        if (!isInit)
        {
            // On a host, keep off the host's own crun state, /etc and vsock port.
            options = options with
            {
                RunDir = "/run/katasharp-agent",
                CrunRoot = "/run/katasharp-agent/crun",
                EtcDir = "/run/katasharp-agent/etc",
                EnableVsock = false,
                EnableSerial = false,
            };
        }

        var warnings = new List<string>();
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            string? Value() => i + 1 < args.Count ? args[++i] : throw new ArgumentException($"{arg} needs a value");
            switch (arg)
            {
                case "--listen":
                    var listen = Value()!;
                    if (!listen.StartsWith("unix:", StringComparison.Ordinal) || listen.Length <= 5)
                    {
                        throw new ArgumentException($"--listen {listen}: only unix:/path is supported");
                    }

                    options = options with { ListenUnix = listen[5..] };
                    break;
                case "--shared-dir":
                    options = options with { SharedDirOverride = Path.GetFullPath(Value()!) };
                    break;
                case "--run-dir":
                    var run = Path.GetFullPath(Value()!);
                    options = options with { RunDir = run, CrunRoot = Path.Combine(run, "crun"), EtcDir = Path.Combine(run, "etc") };
                    break;
                case "--crun":
                    options = options with { CrunPath = Value() };
                    break;
                case "--crun-cgroup-manager":
                    options = options with { CrunCgroupManager = Value() };
                    break;
                case "--vsock":
                    options = options with { EnableVsock = true };
                    break;
                case "--serial":
                    options = options with { EnableSerial = true };
                    break;
                case "--no-vsock":
                    options = options with { EnableVsock = false };
                    break;
                case "--no-serial":
                    options = options with { EnableSerial = false };
                    break;
                default:
                    warnings.Add($"ignoring unknown argument '{arg}'");
                    break;
            }
        }

        return options with { Warnings = warnings };
    }
}

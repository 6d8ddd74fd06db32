using KataSharp.Protocol.Logging;
using KataSharp.Runtime.Logging;
using KataSharp.Runtime.Configuration;
using KataSharp.Runtime.Sandbox;
using Microsoft.Extensions.Logging;

namespace KataSharp.Cli;

/// <summary>What every command needs: the configuration in force, logging, and the sandbox manager.</summary>
internal sealed class CliContext : IDisposable
{
    private CliContext(LoadedConfig config, bool verbose)
    {
        Loaded = config;
        Verbose = verbose;
        LoggerFactory = verbose
            ? HostLogging.Create(new LogLevelSwitch(Environment.GetEnvironmentVariable("KATASHARP_DEBUG") is { Length: > 0 } ? LogLevel.Trace
                : config.Config.Log.Level < LogLevel.Information ? config.Config.Log.Level : LogLevel.Information))
            : Microsoft.Extensions.Logging.LoggerFactory.Create(builder => builder.SetMinimumLevel(LogLevel.Warning).AddProvider(new StderrLoggerProvider()));
        Logger = LoggerFactory.CreateLogger("katasharp");
        Manager = new SandboxManager(config.Config, LoggerFactory);
    }

    public LoadedConfig Loaded { get; }
    public KataSharpConfig Config => Loaded.Config;
    public bool Verbose { get; }
    public ILoggerFactory LoggerFactory { get; }
    public ILogger Logger { get; }
    public SandboxManager Manager { get; }

    /// <exception cref="ConfigException">The configuration cannot be loaded.</exception>
    public static CliContext Create(GlobalOptions global, ArgReader reader) =>
        new(new ConfigLoader().Load(reader.Get("config") ?? global.ConfigPath), global.Verbose || reader.Has("verbose"));

    public void Dispose() => LoggerFactory.Dispose();
}

/// <summary>Options given before the command name.</summary>
internal sealed record GlobalOptions(string? ConfigPath, bool Verbose);

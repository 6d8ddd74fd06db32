using KataSharp.Protocol.Errors;
using KataSharp.Runtime.Configuration;
using KataSharp.Runtime.Sandbox;
using KataSharp.Shim.Lifecycle;
using KataSharp.Shim.Logging;
using Microsoft.Extensions.Logging;

namespace KataSharp.Shim.TaskService;

/// <summary>
/// Boots a real micro-VM: loads the configuration containerd's options name, and leaves the state hint for
/// the delete action. The first boot also collects what crashed sandboxes of that state directory left,
/// in the background: a shim is the one KataSharp process that runs on every node after a crash.
/// </summary>
internal sealed partial class PodVmFactory : IPodVmFactory
{
    private static readonly TimeSpan GcTimeout = TimeSpan.FromMinutes(2);

    private readonly ILoggerFactory _loggerFactory;
    private readonly ShimLogLevel? _logLevel;
    private int _collected;

    public PodVmFactory(ILoggerFactory loggerFactory, ShimLogLevel? logLevel = null)
    {
        _loggerFactory = loggerFactory;
        _logLevel = logLevel;
    }

    public async Task<IPodVm> CreateAsync(string id, string bundle, BundleSpec spec, string? configPath, CancellationToken cancellationToken)
    {
        KataSharpConfig config;
        try
        {
            config = new ConfigLoader().Load(string.IsNullOrEmpty(configPath) ? null : configPath).Config;
            config = _logLevel?.Apply(config) ?? config;
        }
        catch (ConfigException e)
        {
            throw Errdefs.InvalidArgument(e.Message);
        }

        // The delete action runs in another process with no options: tell it where our state lives.
        await File.WriteAllTextAsync(Path.Combine(bundle, ShimStateHint.FileName), config.Runtime.StateDir, cancellationToken).ConfigureAwait(false);
        if (Interlocked.Exchange(ref _collected, 1) == 0)
        {
            _ = Task.Run(() => CollectGarbageAsync(config));
        }

        return await PodVm.CreateAsync(id, spec, config, _loggerFactory, cancellationToken).ConfigureAwait(false);
    }

    private async Task CollectGarbageAsync(KataSharpConfig config)
    {
        var logger = _loggerFactory.CreateLogger("KataSharp.Shim.Gc");
        try
        {
            using var timeout = new CancellationTokenSource(GcTimeout);
            var report = await new SandboxGarbageCollector(new SandboxManager(config, _loggerFactory), logger).CollectAsync(timeout.Token).ConfigureAwait(false);
            if (report.Removed.Count > 0)
            {
                LogCollected(logger, report.Removed.Count, string.Join(' ', report.Removed));
            }
        }
        catch (Exception e) when (e is SandboxException or OperationCanceledException or IOException or UnauthorizedAccessException)
        {
            LogGcFailed(logger, e.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "gc at start: removed {Count} stale sandboxes: {Ids}")]
    private static partial void LogCollected(ILogger logger, int count, string ids);

    [LoggerMessage(Level = LogLevel.Warning, Message = "gc at start failed: {Reason}")]
    private static partial void LogGcFailed(ILogger logger, string reason);
}

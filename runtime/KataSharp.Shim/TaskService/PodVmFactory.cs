using KataSharp.Protocol.Errors;
using KataSharp.Runtime.Configuration;
using KataSharp.Shim.Lifecycle;
using Microsoft.Extensions.Logging;

namespace KataSharp.Shim.TaskService;

/// <summary>Boots a real micro-VM: loads the configuration containerd's options name, and leaves the state hint for the delete action.</summary>
internal sealed class PodVmFactory : IPodVmFactory
{
    private readonly ILoggerFactory _loggerFactory;

    public PodVmFactory(ILoggerFactory loggerFactory) => _loggerFactory = loggerFactory;

    public async Task<IPodVm> CreateAsync(string id, string bundle, BundleSpec spec, string? configPath, CancellationToken cancellationToken)
    {
        KataSharpConfig config;
        try
        {
            config = new ConfigLoader().Load(string.IsNullOrEmpty(configPath) ? null : configPath).Config;
        }
        catch (ConfigException e)
        {
            throw Errdefs.InvalidArgument(e.Message);
        }

        // The delete action runs in another process with no options: tell it where our state lives.
        await File.WriteAllTextAsync(Path.Combine(bundle, ShimStateHint.FileName), config.Runtime.StateDir, cancellationToken).ConfigureAwait(false);
        return await PodVm.CreateAsync(id, spec, config, _loggerFactory, cancellationToken).ConfigureAwait(false);
    }
}

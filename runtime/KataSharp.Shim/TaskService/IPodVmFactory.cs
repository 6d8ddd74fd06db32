using KataSharp.Protocol.Errors;
using KataSharp.Shim.Lifecycle;

namespace KataSharp.Shim.TaskService;

/// <summary>Boots the pod's VM for its first container.</summary>
internal interface IPodVmFactory
{
    /// <exception cref="KataSharpException">Bad configuration or sizing (InvalidArgument), or the sandbox failed.</exception>
    Task<IPodVm> CreateAsync(string id, string bundle, BundleSpec spec, string? configPath, CancellationToken cancellationToken);
}

using KataSharp.Runtime.Hypervisors;
using Microsoft.Extensions.Logging;

namespace KataSharp.Runtime.Storage;

/// <summary>Picks the <see cref="ISharedFilesystem"/> for a share's type.</summary>
public static class SharedFilesystems
{
    /// <param name="helperLogPath">Where a helper process (virtiofsd) writes its output.</param>
    public static ISharedFilesystem Create(SharedFsSpec spec, string helperLogPath, TimeSpan startTimeout, ILogger logger) => spec.Type switch
    {
        SharedFsType.VirtioFs => new VirtioFsSharedFilesystem(spec, helperLogPath, startTimeout, logger),
        _ => new NinePSharedFilesystem(spec),
    };

    /// <summary>The share of a sandbox another process created, from the helper recorded in its state; null when it has none.</summary>
    public static ISharedFilesystem? Attach(SharedFsSpec spec, ProcessIdentity? helper, ILogger logger) => spec.Type switch
    {
        SharedFsType.VirtioFs when helper is { Pid: > 0 } virtiofsd => VirtioFsSharedFilesystem.Attach(spec, virtiofsd, logger),
        _ => null,
    };
}

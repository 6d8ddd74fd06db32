using KataSharp.Protocol.Logging;
using KataSharp.Runtime.Configuration;
using Microsoft.Extensions.Logging;

namespace KataSharp.Shim.Logging;

/// <summary>
/// The shim's log level: containerd's <c>-debug</c> (given only when containerd itself logs at debug) or the
/// configuration's <c>log.level</c>, whichever says more. Known only at the pod's first Create, where the
/// configuration comes from; the agent follows through the configuration it is booted with.
/// </summary>
internal sealed class ShimLogLevel(LogLevelSwitch level, bool debugFlag)
{
    /// <summary>Sets the shim's level from <paramref name="config"/>, and returns it with the level in force.</summary>
    public KataSharpConfig Apply(KataSharpConfig config)
    {
        var effective = debugFlag && config.Log.Level > LogLevel.Debug ? LogLevel.Debug : config.Log.Level;
        level.Minimum = effective;
        return config with { Log = config.Log with { Level = effective } };
    }
}

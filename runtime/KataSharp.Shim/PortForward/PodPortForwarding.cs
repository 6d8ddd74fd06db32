using KataSharp.Native;
using KataSharp.Runtime.Agent;
using KataSharp.Runtime.Network;
using Microsoft.Extensions.Logging;

namespace KataSharp.Shim.PortForward;

/// <summary>Starts a pod's port-forwarding beside its VM; a pod whose forwarding cannot start still runs.</summary>
internal static partial class PodPortForwarding
{
    /// <returns>The running forwarder, or null (logged as an error) when the namespace cannot take it.</returns>
    public static async Task<PodPortForwarder?> TryStartAsync(string netnsPath, AgentConnection agent, ILoggerFactory loggerFactory,
        CancellationToken cancellationToken)
    {
        var logger = loggerFactory.CreateLogger("KataSharp.PortForward");
        try
        {
            return await PodPortForwarder.StartAsync(netnsPath, new AgentGuestLoopback(agent), NetnsCommandRunner.Default, logger, cancellationToken)
                .ConfigureAwait(false);
        }
        catch (Exception e) when (e is ErrnoException or NetworkException)
        {
            // Port-forward is the one thing that needs it; failing the whole pod for it would take more than it gives.
            LogUnavailable(logger, netnsPath, e.Message);
            return null;
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "port-forward into the guest is unavailable for {Netns}: {Reason}")]
    private static partial void LogUnavailable(ILogger logger, string netns, string reason);
}

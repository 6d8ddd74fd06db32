namespace KataSharp.Shim.HostCgroup;

/// <summary>The part of systemd's manager (org.freedesktop.systemd1.Manager on the system bus) the pod's cgroup needs.</summary>
internal interface ISystemdManager
{
    /// <summary>Starts <paramref name="scope"/> and waits for its job to finish.</summary>
    /// <exception cref="SystemdException">systemd refused the unit, its job failed, or the bus could not be reached.</exception>
    Task StartTransientScopeAsync(TransientScope scope, CancellationToken cancellationToken);
}

/// <summary>systemd did not start a unit: the reason is in the message.</summary>
internal sealed class SystemdException(string message, Exception? inner = null) : Exception(message, inner);

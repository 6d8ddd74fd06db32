namespace KataSharp.Runtime.Hypervisors;

/// <summary>
/// A VMM running one sandbox VM, made by an <see cref="IHypervisorDriver"/>. Implementations own
/// the VMM process: they clean it up on every failure path.
/// </summary>
public interface IHypervisor : IAsyncDisposable
{
    /// <summary>The VMM process (pid and start time, for state.json), once started.</summary>
    ProcessIdentity? Process { get; }

    /// <summary>The VMM's process id, once started; the task pid reported for every container (design decision 8).</summary>
    int? Pid => Process?.Pid;

    /// <summary>The guest serial console log.</summary>
    string ConsoleLogPath { get; }

    /// <summary>Completes when the VMM process has exited, whether asked to or not (a crash).</summary>
    Task<HypervisorExit> Exited { get; }

    /// <summary>Starts the VMM and returns when its control socket answers. On failure nothing is left running.</summary>
    /// <exception cref="HypervisorException">The VMM could not be started or did not answer in time.</exception>
    Task StartAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Sets how much of its boot RAM the guest may use (the balloon holds the rest), and returns once the guest
    /// has it. Growing past the RAM the VM booted with is impossible.
    /// </summary>
    /// <exception cref="HypervisorException">The VMM refused, or the guest did not take the memory in time.</exception>
    Task SetMemoryAsync(int memoryMiB, CancellationToken cancellationToken);

    /// <summary>
    /// Stops the VM: waits up to <paramref name="gracePeriod"/> for it to exit by itself (the agent powers
    /// the guest off after DestroySandbox), then asks the VMM to quit, then kills it.
    /// </summary>
    Task StopAsync(TimeSpan gracePeriod, CancellationToken cancellationToken);
}

/// <summary>How the VMM process ended. <see cref="Requested"/> is false for a crash or an unexpected guest shutdown.</summary>
public sealed record HypervisorExit(bool Requested, int? ExitCode, int? Signal, string? Reason)
{
    public override string ToString() =>
        (Signal is { } s ? $"killed by signal {s}" : ExitCode is { } c ? $"exit code {c}" : "exited")
        + (Reason is null ? "" : $" ({Reason})");
}

public sealed class HypervisorException : Exception
{
    public HypervisorException(string message) : base(message)
    {
    }

    public HypervisorException(string message, Exception inner) : base(message, inner)
    {
    }
}

using Microsoft.Extensions.Logging;

namespace KataSharp.Agent.Faults;

/// <summary>The faults the guest can be told to stage for the host's fault tests.</summary>
internal enum GuestFaultKind
{
    None,

    /// <summary>Once the first workload container has started, no RPC is answered any more.</summary>
    AgentHang,
}

/// <summary>
/// The agent's test seam: a fault named by the <c>katasharp_fault</c> kernel parameter (the kernel hands it to
/// init as an environment variable, set through <c>hypervisor.kernelParams</c> in the host's katasharp.yaml).
/// It can only make this agent fail its host, as a hung guest would; it grants the guest nothing it could not
/// already do (a hostile guest can stop answering at will), so the host's handling is what is under test.
/// </summary>
internal sealed partial class GuestFault
{
    public const string Variable = "katasharp_fault";

    private readonly ILogger _logger;
    private readonly TaskCompletionSource _tripped = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public GuestFault(GuestFaultKind kind, ILogger logger)
    {
        Kind = kind;
        _logger = logger;
    }

    public GuestFaultKind Kind { get; }

    /// <summary>True once the fault is in effect: from then on every call hangs.</summary>
    public bool IsTripped => _tripped.Task.IsCompleted;

    /// <summary>The fault the environment names; none for no name, and none (with a warning) for an unknown one.</summary>
    public static GuestFault FromEnvironment(Func<string, string?> getEnvironment, ILogger logger)
    {
        var value = getEnvironment(Variable);
        var kind = value switch
        {
            null or "" or "none" => GuestFaultKind.None,
            "agent-hang" => GuestFaultKind.AgentHang,
            _ => (GuestFaultKind?)null,
        };
        if (kind is null)
        {
            LogUnknown(logger, value!);
        }

        return new GuestFault(kind ?? GuestFaultKind.None, logger);
    }

    /// <summary>A workload container started (never the sandbox's own): the moment agent-hang takes effect.</summary>
    public void WorkloadStarted(string containerId)
    {
        if (Kind == GuestFaultKind.AgentHang && _tripped.TrySetResult())
        {
            LogTripped(_logger, containerId);
        }
    }

    /// <summary>
    /// Before each call: returns at once while the fault is not in effect; afterwards it never returns, ending
    /// only when the call is cancelled (its deadline, or its connection closing), so the host sees no answer.
    /// </summary>
    public Task BeforeCallAsync(CancellationToken cancellationToken) =>
        IsTripped ? Task.Delay(Timeout.Infinite, cancellationToken) : Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Warning, Message = "ignoring unknown katasharp_fault '{Value}' (known: agent-hang)")]
    private static partial void LogUnknown(ILogger logger, string value);

    [LoggerMessage(Level = LogLevel.Warning, Message = "injected fault agent-hang: container {ContainerId} started, no RPC is answered from now on")]
    private static partial void LogTripped(ILogger logger, string containerId);
}

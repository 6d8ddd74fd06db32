using Microsoft.Extensions.Logging;

namespace KataSharp.Agent.Faults;

/// <summary>The faults the guest can be told to stage for the host's fault tests.</summary>
internal enum GuestFaultKind
{
    None,

    /// <summary>Once the first workload container has started, no RPC is answered any more.</summary>
    AgentHang,

    /// <summary>
    /// Once the first workload container's start has been answered, the agent process dies as a crashed one
    /// does (a fail-fast abort, past every handler). It is PID 1, so the guest kernel panics with it.
    /// </summary>
    AgentCrash,
}

/// <summary>
/// The agent's test seam: a fault named by the <c>katasharp_fault</c> kernel parameter (the kernel hands it to
/// init as an environment variable, set through <c>hypervisor.kernelParams</c> in the host's katasharp.yaml).
/// It can only make this agent fail its host, as a hung or crashed guest would; it grants the guest nothing it
/// could not already do (a hostile guest can stop answering or die at will), so the host's handling is what is
/// under test.
/// </summary>
internal sealed partial class GuestFault
{
    public const string Variable = "katasharp_fault";

    /// <summary>
    /// How long agent-crash waits after the start call returns before it kills the agent: the ttrpc server writes
    /// the answer (a few dozen bytes) as soon as the handler returns, and nothing tells the handler when that write
    /// is done, so the crash waits out the write with room for a slow, loaded guest.
    /// </summary>
    public static readonly TimeSpan AnswerGrace = TimeSpan.FromSeconds(2);

    private readonly ILogger _logger;
    private readonly Action<string> _die;
    private readonly TimeSpan _answerGrace;
    private readonly TaskCompletionSource _tripped = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <param name="kind">The fault to stage.</param>
    /// <param name="logger">Where the fault says when it takes effect.</param>
    /// <param name="die">How agent-crash ends the process (<see cref="Environment.FailFast(string)"/> unless a test says otherwise).</param>
    /// <param name="answerGrace">How long agent-crash waits before dying (<see cref="AnswerGrace"/> unless a test says otherwise).</param>
    public GuestFault(GuestFaultKind kind, ILogger logger, Action<string>? die = null, TimeSpan? answerGrace = null)
    {
        Kind = kind;
        _logger = logger;
        _die = die ?? Environment.FailFast;
        _answerGrace = answerGrace ?? AnswerGrace;
    }

    public GuestFaultKind Kind { get; }

    /// <summary>True once the fault is in effect: from then on every call hangs (agent-hang), or the agent is about to die (agent-crash).</summary>
    public bool IsTripped => _tripped.Task.IsCompleted;

    /// <summary>The fault the environment names; none for no name, and none (with a warning) for an unknown one.</summary>
    public static GuestFault FromEnvironment(Func<string, string?> getEnvironment, ILogger logger)
    {
        var value = getEnvironment(Variable);
        var kind = value switch
        {
            null or "" or "none" => GuestFaultKind.None,
            "agent-hang" => GuestFaultKind.AgentHang,
            "agent-crash" => GuestFaultKind.AgentCrash,
            _ => (GuestFaultKind?)null,
        };
        if (kind is null)
        {
            LogUnknown(logger, value!);
        }

        return new GuestFault(kind ?? GuestFaultKind.None, logger);
    }

    /// <summary>
    /// A workload container started (never the sandbox's own) and its start call has returned its answer: the
    /// moment agent-hang takes effect, and agent-crash sets off the crash, off the call's path.
    /// </summary>
    public void WorkloadStarted(string containerId)
    {
        if (Kind == GuestFaultKind.None || !_tripped.TrySetResult())
        {
            return;
        }

        if (Kind == GuestFaultKind.AgentHang)
        {
            LogHangTripped(_logger, containerId);
            return;
        }

        LogCrashTripped(_logger, containerId, _answerGrace.TotalSeconds);
        _ = Task.Run(() => CrashAsync(containerId));
    }

    /// <summary>
    /// Before each call: returns at once unless agent-hang is in effect; then it never returns, ending only when
    /// the call is cancelled (its deadline, or its connection closing), so the host sees no answer.
    /// </summary>
    public Task BeforeCallAsync(CancellationToken cancellationToken) =>
        Kind == GuestFaultKind.AgentHang && IsTripped ? Task.Delay(Timeout.Infinite, cancellationToken) : Task.CompletedTask;

    private async Task CrashAsync(string containerId)
    {
        await Task.Delay(_answerGrace).ConfigureAwait(false);
        _die($"injected fault agent-crash: the agent dies after container {containerId} started");
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "ignoring unknown katasharp_fault '{Value}' (known: agent-hang, agent-crash)")]
    private static partial void LogUnknown(ILogger logger, string value);

    [LoggerMessage(Level = LogLevel.Warning, Message = "injected fault agent-hang: container {ContainerId} started, no RPC is answered from now on")]
    private static partial void LogHangTripped(ILogger logger, string containerId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "injected fault agent-crash: container {ContainerId} started, the agent dies in {Seconds} s")]
    private static partial void LogCrashTripped(ILogger logger, string containerId, double seconds);
}

using Microsoft.Extensions.Logging;

namespace KataSharp.Protocol.Logging;

/// <summary>
/// How the host tells the agent its log level before any RPC: a kernel parameter, which the kernel hands
/// to init (the agent) as an environment variable since it knows no such parameter itself.
/// </summary>
public static class AgentLogLevel
{
    public const string Variable = "katasharp_log";

    /// <summary>The kernel parameter for <paramref name="level"/>; empty for info, the agent's default.</summary>
    public static string KernelParameter(LogLevel level) =>
        level == LogLevel.Information ? "" : $"{Variable}={LogLevelSwitch.Name(level)}";

    /// <summary>The level the agent's environment names; info when it names none or an unknown one.</summary>
    public static LogLevel FromEnvironment(Func<string, string?> getEnvironment) =>
        LogLevelSwitch.Parse(getEnvironment("KATASHARP_AGENT_LOG") ?? getEnvironment(Variable)) ?? LogLevel.Information;
}

using KataSharp.Agent.Init;
using KataSharp.Agent.Logging;
using KataSharp.Native;
using KataSharp.Protocol.Logging;
using Microsoft.Extensions.Logging;

namespace KataSharp.Agent;

internal static partial class Program
{
    private static async Task<int> Main(string[] args)
    {
        var isInit = Environment.ProcessId == 1;
        FdOps.EnsureStandardFdsOpen();

        var level = AgentLogLevel.FromEnvironment(Environment.GetEnvironmentVariable);
        using var loggers = LoggerFactory.Create(builder => builder.SetMinimumLevel(level)
            .AddProvider(new LogfmtLoggerProvider(new ConsoleLines().Write, new LogLevelSwitch(level))));
        var logger = loggers.CreateLogger("KataSharp.Agent");

        AgentOptions options;
        try
        {
            options = AgentOptions.Parse(args, isInit);
        }
        catch (ArgumentException e) when (!isInit)
        {
            LogUsage(logger, e.Message);
            return 2;
        }
        catch (ArgumentException e)
        {
            LogBadArguments(logger, e.Message);
            options = new AgentOptions { IsInit = true };
        }

        try
        {
            return await new AgentHost(options, loggers).RunAsync().ConfigureAwait(false);
        }
        catch (Exception e)
        {
            LogFatal(logger, e);
            if (isInit)
            {
                // PID 1 must not exit (the kernel would panic): end the VM instead.
                new PowerControl(true, loggers.CreateLogger<PowerControl>()).PowerOffNow();
            }

            return 1;
        }
    }

    [LoggerMessage(Level = LogLevel.Error,
        Message = "{Reason}. Usage: katasharp-agent [--listen unix:/path] [--shared-dir DIR] [--run-dir DIR] [--crun PATH] [--crun-cgroup-manager disabled] [--[no-]vsock] [--[no-]serial]")]
    private static partial void LogUsage(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "{Reason}; continuing with defaults")]
    private static partial void LogBadArguments(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Critical, Message = "katasharp-agent failed")]
    private static partial void LogFatal(ILogger logger, Exception exception);
}

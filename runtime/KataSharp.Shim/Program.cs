using KataSharp.Protocol.Logging;
using KataSharp.Runtime;
using KataSharp.Runtime.Logging;
using KataSharp.Shim.Lifecycle;
using Microsoft.Extensions.Logging;

namespace KataSharp.Shim;

/// <summary>containerd-shim-katasharp-v2: containerd's runtime <c>io.containerd.katasharp.v2</c>.</summary>
internal static class Program
{
    private static async Task<int> Main(string[] argv)
    {
        ShimArguments args;
        try
        {
            args = ShimArguments.Parse(argv);
        }
        catch (ArgumentException e)
        {
            await Console.Error.WriteLineAsync($"containerd-shim-katasharp-v2: {e.Message}").ConfigureAwait(false);
            return 2;
        }

        if (args.Version)
        {
            Console.WriteLine($"containerd-shim-katasharp-v2 {RuntimeInfo.Version}");
            return 0;
        }

        switch (args.Action)
        {
            case "start":
                return await StartCommand.RunAsync(args, Console.Out, Console.Error).ConfigureAwait(false);
            case "delete":
                using (var loggers = HostLogging.Create(new LogLevelSwitch(args.Debug ? LogLevel.Debug : LogLevel.Information),
                    [new("namespace", args.Namespace), new("container", args.Id)]))
                {
                    await using var stdout = Console.OpenStandardOutput();
                    return await DeleteCommand.RunAsync(args, stdout, loggers).ConfigureAwait(false);
                }

            case "":
                ShimDaemon.Detach(string.IsNullOrEmpty(args.Bundle) ? Directory.GetCurrentDirectory() : args.Bundle);
                var level = new LogLevelSwitch(args.Debug ? LogLevel.Debug : LogLevel.Information);
                // One shim serves one pod, started for its first container: the sandbox's id.
                using (var loggers = HostLogging.Create(level, [new("namespace", args.Namespace), new("sandbox", args.Id)]))
                {
                    return await ShimDaemon.RunAsync(args, loggers, level).ConfigureAwait(false);
                }

            default:
                await Console.Error.WriteLineAsync($"containerd-shim-katasharp-v2: unknown action '{args.Action}'").ConfigureAwait(false);
                return 2;
        }
    }

}

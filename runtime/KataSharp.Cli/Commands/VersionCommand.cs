namespace KataSharp.Cli.Commands;

internal static class VersionCommand
{
    public static readonly CommandSyntax Syntax = new()
    {
        Name = "version",
        Summary = "Print the version",
        Arguments = "",
        Description = "Print the version of katasharp, its agent protocol and .NET.",
        TakesCommonOptions = false,
    };

    public static int Execute(IReadOnlyList<string> args)
    {
        var reader = Syntax.Parse(args);
        if (Syntax.PrintedHelp(reader))
        {
            return 0;
        }

        if (reader.Positionals.Count > 0)
        {
            throw new UsageException("version takes no arguments");
        }

        System.Console.WriteLine($"katasharp {KataSharp.Runtime.RuntimeInfo.Version}");
        System.Console.WriteLine("agent protocol: katasharp.agent.v1");
        System.Console.WriteLine($"runtime: .NET {Environment.Version} (NativeAOT: {!System.Runtime.CompilerServices.RuntimeFeature.IsDynamicCodeSupported})");
        return 0;
    }
}

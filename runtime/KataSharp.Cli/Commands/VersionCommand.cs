namespace KataSharp.Cli.Commands;

internal static class VersionCommand
{
    public static int Execute()
    {
        System.Console.WriteLine($"katasharp {KataSharp.Runtime.RuntimeInfo.Version}");
        System.Console.WriteLine("agent protocol: katasharp.agent.v1");
        System.Console.WriteLine($"runtime: .NET {Environment.Version} (NativeAOT: {!System.Runtime.CompilerServices.RuntimeFeature.IsDynamicCodeSupported})");
        return 0;
    }
}

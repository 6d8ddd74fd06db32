namespace KataSharp.Cli;

internal static class Program
{
    private static int Main(string[] args)
    {
        Console.Error.WriteLine("katasharp: not implemented yet");
        return 1;
    }
}

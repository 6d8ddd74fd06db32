namespace KataSharp.Agent;

internal static class Program
{
    private static int Main(string[] args)
    {
        Console.Error.WriteLine("katasharp-agent: not implemented yet");
        return 1;
    }
}

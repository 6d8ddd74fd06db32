namespace KataSharp.Shim;

internal static class Program
{
    private static int Main(string[] args)
    {
        Console.Error.WriteLine("containerd-shim-katasharp-v2: not implemented yet");
        return 1;
    }
}

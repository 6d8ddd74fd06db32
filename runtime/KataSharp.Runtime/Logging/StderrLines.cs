namespace KataSharp.Runtime.Logging;

/// <summary>Whole lines to stderr, one writer at a time, so that concurrent loggers never interleave within a line.</summary>
public static class StderrLines
{
    private static readonly Lock Gate = new();

    public static void Write(string line)
    {
        lock (Gate)
        {
            try
            {
                System.Console.Error.Write(line);
            }
            catch (IOException)
            {
                // A shim's stderr is containerd's log FIFO: a full or closed one must not take the pod down.
            }
        }
    }
}

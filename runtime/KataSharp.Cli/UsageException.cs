namespace KataSharp.Cli;

/// <summary>The command line is wrong; the message says how. Exits 125, as docker does for its own errors.</summary>
internal sealed class UsageException : Exception
{
    public UsageException(string message) : base(message)
    {
    }
}

namespace KataSharp.Runtime.Configuration;

/// <summary>A configuration file or override that cannot be used; the message names the key and where it came from.</summary>
public sealed class ConfigException : Exception
{
    public ConfigException(string message) : base(message)
    {
    }

    public ConfigException(string message, Exception inner) : base(message, inner)
    {
    }
}

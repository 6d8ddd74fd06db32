namespace KataSharp.Runtime.Network;

/// <summary>The host's /proc/sys/net settings (an interface so that unit tests never touch the host's).</summary>
public interface IHostSysctl
{
    /// <returns>The value, or null when the key does not exist or cannot be read.</returns>
    string? Read(string key);

    /// <exception cref="IOException">The key cannot be written (e.g. /proc/sys mounted read-only).</exception>
    /// <exception cref="UnauthorizedAccessException">Not allowed.</exception>
    void Write(string key, string value);
}

/// <summary>Reads and writes <c>/proc/sys/&lt;key with / for .&gt;</c> of this process's network namespace.</summary>
public sealed class HostSysctl : IHostSysctl
{
    public static HostSysctl Instance { get; } = new();

    public string? Read(string key)
    {
        try
        {
            return File.ReadAllText(PathOf(key)).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    public void Write(string key, string value) => File.WriteAllText(PathOf(key), value);

    private static string PathOf(string key) => Path.Combine("/proc/sys", key.Replace('.', '/'));
}

using Microsoft.Win32.SafeHandles;

namespace KataSharp.Runtime.Hypervisors;

/// <summary>The host facts that choose the accelerator and the channels, behind an interface so the rules can be unit-tested.</summary>
public interface IHostSystem
{
    bool FileExists(string path);
    bool DirectoryExists(string path);

    /// <summary>True when the device or file opens read-write for this process.</summary>
    bool CanOpenReadWrite(string path);
}

public sealed class HostSystem : IHostSystem
{
    public static readonly HostSystem Instance = new();

    public bool FileExists(string path) => File.Exists(path) || Path.Exists(path);

    public bool DirectoryExists(string path) => Directory.Exists(path);

    public bool CanOpenReadWrite(string path)
    {
        try
        {
            using SafeFileHandle handle = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            return false;
        }
    }
}

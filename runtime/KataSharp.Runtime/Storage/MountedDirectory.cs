using Microsoft.Extensions.Logging;

namespace KataSharp.Runtime.Storage;

/// <summary>
/// Deletes a directory that may have bind mounts under it. Mounts are found in /proc/self/mountinfo,
/// not remembered, so this also cleans up after a process that died; nothing is deleted through a
/// mount that is still there (which would delete the host's files behind it).
/// </summary>
public static partial class MountedDirectory
{
    /// <exception cref="IOException">A mount could not be removed; the directory is left in place.</exception>
    public static void UnmountAndDelete(string directory, ILogger logger)
    {
        if (!Directory.Exists(directory))
        {
            return;
        }

        foreach (var point in MountTable.MountPointsUnder(directory, MountTable.MountPoints()))
        {
            BindMounts.Unmount(point);
            LogUnmounted(logger, point);
        }

        if (MountTable.MountPointsUnder(directory, MountTable.MountPoints()).Count > 0)
        {
            throw new IOException($"{directory} still has mounts under it; not deleting it");
        }

        Directory.Delete(directory, recursive: true);
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "unmounted {Target}")]
    private static partial void LogUnmounted(ILogger logger, string target);
}

using KataSharp.Native.Files;
using Microsoft.Extensions.Logging;

namespace KataSharp.Runtime.Storage;

/// <summary>
/// Deletes a directory that may have bind mounts under it. Mounts are found in /proc/self/mountinfo,
/// not remembered, so this also cleans up after a process that died; nothing is deleted through a
/// mount that is still there (which would delete the host's files behind it). The tree may hold what a
/// guest wrote, so it is removed by fd, never following a symlink (<see cref="SafeRemove"/>).
/// </summary>
public static partial class MountedDirectory
{
    /// <exception cref="IOException">A mount could not be removed, or something could not be deleted; the rest is left in place.</exception>
    public static void UnmountAndDelete(string directory, ILogger logger)
    {
        if (!Directory.Exists(directory))
        {
            return;
        }

        UnmountAll(directory, logger);
        SafeRemove.RemoveAll(directory);
    }

    /// <summary>Unmounts every mount at or under <paramref name="directory"/>, deepest first.</summary>
    /// <exception cref="IOException">A mount is still there afterwards.</exception>
    public static void UnmountAll(string directory, ILogger logger)
    {
        foreach (var point in MountTable.MountPointsUnder(directory, MountTable.MountPoints()))
        {
            BindMounts.Unmount(point);
            LogUnmounted(logger, point);
        }

        if (MountTable.MountPointsUnder(directory, MountTable.MountPoints()).Count > 0)
        {
            throw new IOException($"{directory} still has mounts under it; not deleting it");
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "unmounted {Target}")]
    private static partial void LogUnmounted(ILogger logger, string target);
}

using KataSharp.Native;
using KataSharp.Native.Processes;

namespace KataSharp.Runtime.Hypervisors;

/// <summary>
/// Starts a VMM in its own session with stdin on /dev/null and stdout/stderr appended to a log
/// file, so that it outlives the process that started it (<c>katasharp run --keep</c>) and never
/// dies of a closed pipe or the terminal's Ctrl-C. Uses posix_spawn (<see cref="ProcessSpawner"/>):
/// .NET cannot run code between fork and exec, and System.Diagnostics.Process can neither setsid nor
/// redirect to a file.
/// </summary>
internal static class DetachedProcess
{
    private const uint LogMode = 0x180; // 0600: the VMM log is root's alone, like the rest of the sandbox directory

    /// <summary>Starts <paramref name="path"/> inside the network namespace at <paramref name="networkNamespacePath"/> (ours when null).</summary>
    /// <exception cref="HypervisorException">The namespace cannot be entered or the program cannot be started.</exception>
    public static int Spawn(string path, IReadOnlyList<string> arguments, string logPath, string? networkNamespacePath)
    {
        // posix_spawn (not posix_spawnp) took a relative path as relative to the working directory.
        var request = new SpawnRequest([Path.GetFullPath(path), .. arguments])
        {
            FileActions =
            [
                new SpawnFileAction.Open(0, "/dev/null", Linux.O_RDONLY),
                new SpawnFileAction.Open(1, logPath, Linux.O_WRONLY | Linux.O_CREAT | Linux.O_APPEND, LogMode),
                new SpawnFileAction.Duplicate(1, 2),
            ],
            NewSession = true,
            Environment = ProcessSpawner.CurrentEnvironment(),
            NetworkNamespacePath = networkNamespacePath,
        };
        try
        {
            return ProcessSpawner.Spawn(request);
        }
        catch (ErrnoException e)
        {
            var where = networkNamespacePath is null ? "" : $" in {networkNamespacePath}";
            throw new HypervisorException($"cannot start {path}{where}: {e.Message}", e);
        }
    }

    /// <summary>Starts <paramref name="path"/> and returns its pid.</summary>
    /// <exception cref="HypervisorException">posix_spawn failed (for example, the executable does not exist).</exception>
    public static int Spawn(string path, IReadOnlyList<string> arguments, string logPath) => Spawn(path, arguments, logPath, null);
}

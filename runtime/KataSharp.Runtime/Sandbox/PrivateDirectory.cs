namespace KataSharp.Runtime.Sandbox;

/// <summary>
/// The state directory and every sandbox directory are root's alone (0700): they hold the VMM's and
/// the agent's sockets, the guest console and the shared tree, none of which another host user may
/// reach. The mode is set outright, so neither the umask nor an older, looser directory decides it.
/// </summary>
public static class PrivateDirectory
{
    public const UnixFileMode Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>Creates <paramref name="path"/> and its missing parents, and makes <paramref name="path"/> 0700.</summary>
    public static void Ensure(string path)
    {
        // Created 0700 (less under a strict umask) so that it is never looser than that, even for a moment.
        Directory.CreateDirectory(path, Mode);
        File.SetUnixFileMode(path, Mode);
    }
}

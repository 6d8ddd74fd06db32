namespace KataSharp.Runtime.Sandbox;

/// <summary>
/// Claims a sandbox id by creating its state.json exclusively (O_CREAT|O_EXCL). Creating the directory
/// cannot be the claim: it succeeds on an existing directory, so two creates of one id would both go on
/// and then delete each other's sockets. Of any number of concurrent claims exactly one wins; a loser
/// throws before it has made anything it would clean up.
/// </summary>
public static class SandboxClaim
{
    /// <summary>Creates the sandbox directory (0700, under a 0700 state directory) and writes <paramref name="state"/> as its first state.json.</summary>
    /// <exception cref="SandboxException">AlreadyExists when the id is taken (or its directory holds the remains of another sandbox); Internal on I/O errors.</exception>
    public static void Claim(string stateDir, SandboxPaths paths, SandboxState state)
    {
        CreateDirectory(stateDir, paths);
        try
        {
            SandboxStateStore.Create(paths.StateFile, state);
        }
        catch (IOException e) when (File.Exists(paths.StateFile))
        {
            throw AlreadyExists(state.Id, paths, e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SandboxException(SandboxErrorCode.Internal, $"cannot create {paths.StateFile}: {e.Message}", e);
        }

        // Won the id; the directory is now this claim's to make private (another claim could have created it).
        File.SetUnixFileMode(paths.Directory, PrivateDirectory.Mode);
        if (Directory.EnumerateFileSystemEntries(paths.Directory).Any(e => e != paths.StateFile))
        {
            // The remains of a sandbox that died before it wrote its state: not ours to delete.
            File.Delete(paths.StateFile);
            throw AlreadyExists(state.Id, paths, null);
        }
    }

    /// <summary>Creates the sandbox directory (0700, under a 0700 state directory); an existing one is left as it is.</summary>
    /// <exception cref="SandboxException">Internal on I/O errors.</exception>
    public static void CreateDirectory(string stateDir, SandboxPaths paths)
    {
        try
        {
            PrivateDirectory.Ensure(Path.GetFullPath(stateDir));
            PrivateDirectory.Ensure(SandboxPaths.SandboxesDirectory(stateDir));
            Directory.CreateDirectory(paths.Directory, PrivateDirectory.Mode);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SandboxException(SandboxErrorCode.Internal, $"cannot create {paths.Directory}: {e.Message}", e);
        }
    }

    private static SandboxException AlreadyExists(string id, SandboxPaths paths, Exception? inner) =>
        new(SandboxErrorCode.AlreadyExists, $"sandbox {id} already exists ({paths.Directory})", inner);
}

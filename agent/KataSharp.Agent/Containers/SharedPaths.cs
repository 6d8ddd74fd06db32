namespace KataSharp.Agent.Containers;

/// <summary>
/// Maps paths the host wrote into a spec to guest paths inside the shared directory, and refuses
/// anything that would reach outside it (host paths mean nothing in the guest).
/// </summary>
internal static class SharedPaths
{
    public static string Resolve(string sharedDir, string path, string what)
    {
        if (string.IsNullOrWhiteSpace(path))
        {
            throw AgentErrors.InvalidArgument($"{what} is empty");
        }

        if (path.Contains('\0'))
        {
            throw AgentErrors.InvalidArgument($"{what} contains a NUL byte");
        }

        var root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(sharedDir));
        string full;
        if (path.StartsWith('/'))
        {
            full = Path.GetFullPath(path);
        }
        else
        {
            if (path.Split('/').Contains(".."))
            {
                throw AgentErrors.InvalidArgument($"{what} '{path}' must not contain '..'");
            }

            full = Path.GetFullPath(Path.Combine(root, path));
        }

        full = Path.TrimEndingDirectorySeparator(full);
        if (full != root && !full.StartsWith(root + "/", StringComparison.Ordinal))
        {
            throw AgentErrors.InvalidArgument(
                $"{what} '{path}' is outside the shared directory {root}; host paths mean nothing in the guest, send a path relative to the shared directory");
        }

        return full;
    }
}

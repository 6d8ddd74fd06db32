namespace KataSharp.Shim.Lifecycle;

/// <summary>
/// A file in the bundle naming the runtime state directory the daemon used: the delete action runs
/// without the daemon's runtime options, yet must find the VM to remove after a shim crash.
/// </summary>
internal static class ShimStateHint
{
    public const string FileName = "katasharp-state-dir";

    public static string? Read(string bundle)
    {
        var path = Path.Combine(bundle, FileName);
        return File.Exists(path) ? File.ReadAllText(path).Trim() : null;
    }
}

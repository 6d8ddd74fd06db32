namespace KataSharp.Runtime.Storage;

/// <summary>A bind volume as <c>-v HOST:GUEST[:ro|rw]</c> writes it.</summary>
public sealed record VolumeSpec(string HostPath, string ContainerPath, bool ReadOnly)
{
    /// <exception cref="FormatException">Not HOST:GUEST[:ro|rw] with absolute paths.</exception>
    public static VolumeSpec Parse(string text)
    {
        var parts = text.Split(':');
        if (parts.Length is < 2 or > 3 || parts[0].Length == 0 || parts[1].Length == 0)
        {
            throw new FormatException($"volume '{text}' must be HOST:GUEST or HOST:GUEST:ro");
        }

        var readOnly = parts.Length == 3 && parts[2] switch
        {
            "ro" => true,
            "rw" => false,
            _ => throw new FormatException($"volume '{text}': unknown option '{parts[2]}' (ro or rw)"),
        };
        if (!parts[1].StartsWith('/'))
        {
            throw new FormatException($"volume '{text}': the container path must be absolute");
        }

        return new VolumeSpec(Path.GetFullPath(parts[0]), parts[1], readOnly);
    }
}

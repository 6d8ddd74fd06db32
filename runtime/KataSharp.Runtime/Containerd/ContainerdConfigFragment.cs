using System.Text.RegularExpressions;

namespace KataSharp.Runtime.Containerd;

/// <summary>Which of configs/ containerd fragments a host needs, and how containerd can take it in.</summary>
/// <param name="File">The fragment's name in configs/.</param>
/// <param name="DropIn">
/// True: a file of its own that config.toml imports. containerd 2.x merges imported plugin tables
/// key by key. False: text to add to config.toml, because containerd 1.x lets an imported file's
/// plugin table replace the whole table (the host's CRI settings would be lost), and 2.x migrates a
/// version 2 config only as one file, so a version 3 drop-in cannot join it.
/// </param>
public sealed partial record ContainerdConfigFragment(string File, bool DropIn)
{
    /// <summary>For containerd 1.6 and 1.7, or any version 2 config: no version line, it is added to one.</summary>
    public static ContainerdConfigFragment Version2 { get; } = new("containerd-katasharp.toml", DropIn: false);

    /// <summary>For containerd 2.x with a version 3 config.</summary>
    public static ContainerdConfigFragment Version3 { get; } = new("containerd-katasharp-v3.toml", DropIn: true);

    /// <summary>
    /// A config that declares version 3 decides; without a config, containerd's release does.
    /// </summary>
    public static ContainerdConfigFragment Choose(ContainerdVersion? containerd, string? configToml) => configToml switch
    {
        null => containerd is { IsV2OrLater: true } ? Version3 : Version2,
        _ => DeclaredVersion(configToml) >= 3 ? Version3 : Version2,
    };

    /// <summary>The top-level <c>version = N</c> of a containerd config, 1 when absent as containerd reads it.</summary>
    public static int DeclaredVersion(string configToml)
    {
        foreach (var line in configToml.Split('\n'))
        {
            var trimmed = line.Trim();
            if (trimmed.StartsWith('['))
            {
                break;
            }

            var match = VersionLine().Match(trimmed);
            if (match.Success)
            {
                return int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        return 1;
    }

    [GeneratedRegex(@"^version\s*=\s*(\d+)\s*(#.*)?$")]
    private static partial Regex VersionLine();
}

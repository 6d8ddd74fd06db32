using System.Text.RegularExpressions;

namespace KataSharp.Runtime.Containerd;

/// <summary>Which of configs/ containerd fragments a host's containerd reads.</summary>
public static partial class ContainerdConfigFragment
{
    /// <summary>For containerd 1.6 and 1.7: config version 2.</summary>
    public const string Version2 = "containerd-katasharp.toml";

    /// <summary>For containerd 2.x: config version 3.</summary>
    public const string Version3 = "containerd-katasharp-v3.toml";

    /// <summary>
    /// The running containerd's release decides; without one, the version its config declares
    /// (containerd 2.x still reads version 2 files, so that is the default).
    /// </summary>
    public static string Choose(ContainerdVersion? containerd, string? configToml)
    {
        if (containerd is not null)
        {
            return containerd.IsV2OrLater ? Version3 : Version2;
        }

        return configToml is not null && DeclaredVersion(configToml) >= 3 ? Version3 : Version2;
    }

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

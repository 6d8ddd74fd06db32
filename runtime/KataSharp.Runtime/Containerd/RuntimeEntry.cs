using System.Text.RegularExpressions;

namespace KataSharp.Runtime.Containerd;

/// <summary>
/// The katasharp runtime table of configs/containerd-katasharp*.toml, made to point at one install:
/// <c>runtime_path</c> names the shim (so containerd needs no PATH entry, as kata-deploy does it)
/// and the options' ConfigPath the installed katasharp.yaml.
/// </summary>
public static partial class RuntimeEntry
{
    /// <summary>The ConfigPath the fragments in configs/ carry.</summary>
    public const string DefaultConfigPath = "/etc/katasharp/katasharp.yaml";

    /// <summary>The table containerd 1.x and 2.x both name the runtime with, whatever the plugin.</summary>
    public const string TableSuffix = ".containerd.runtimes.katasharp]";

    public static string Render(string fragment, string shimPath, string configPath)
    {
        var text = fragment.Replace(ContainerdConfigEdits.Quote(DefaultConfigPath), ContainerdConfigEdits.Quote(configPath), StringComparison.Ordinal);
        var match = RuntimeTypeLine().Match(text);
        if (!match.Success)
        {
            throw new FormatException("the containerd fragment has no runtime_type line");
        }

        return text.Insert(match.Index + match.Length, $"\n{match.Groups[1].Value}runtime_path = {ContainerdConfigEdits.Quote(shimPath)}");
    }

    /// <summary>The 1-based line of a katasharp runtime table in <paramref name="config"/>, or 0.</summary>
    public static int DeclaredAt(string config)
    {
        var lines = config.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var trimmed = lines[i].Trim();
            if (trimmed.StartsWith("[plugins", StringComparison.Ordinal) && trimmed.EndsWith(TableSuffix, StringComparison.Ordinal))
            {
                return i + 1;
            }
        }

        return 0;
    }

    [GeneratedRegex(@"(?m)^([ \t]*)runtime_type\s*=.*$")]
    private static partial Regex RuntimeTypeLine();
}

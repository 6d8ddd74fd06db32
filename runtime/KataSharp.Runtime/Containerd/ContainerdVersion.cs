using System.Globalization;
using KataSharp.Runtime.HostTools;

namespace KataSharp.Runtime.Containerd;

/// <summary>The release of a containerd binary, as its <c>--version</c> prints it.</summary>
public sealed record ContainerdVersion(int Major, int Minor)
{
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(3);

    /// <summary>What is kept of each stream: the version line is one short line.</summary>
    internal const int MaxCapturedBytes = 64 * 1024;

    /// <summary>containerd 2.0 serves the task API as v3 and reads version 3 configuration.</summary>
    public bool IsV2OrLater => Major >= 2;

    public override string ToString() => $"{Major}.{Minor}";

    /// <summary>
    /// Reads <c>containerd github.com/containerd/containerd[/v2] VERSION [REVISION]</c>, where Debian's
    /// VERSION looks like 1.6.20~ds1 or 2.1.9+unknown.
    /// </summary>
    public static ContainerdVersion? Parse(string output)
    {
        foreach (var word in output.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = word.TrimStart('v').Split('.');
            if (parts.Length >= 3
                && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var major)
                && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var minor)
                && parts[2].Length > 0 && char.IsAsciiDigit(parts[2][0]))
            {
                return new ContainerdVersion(major, minor);
            }
        }

        return null;
    }

    /// <summary>Runs <c>BINARY --version</c>; null when it is missing, fails, or says nothing we read.</summary>
    public static async Task<ContainerdVersion?> ProbeAsync(string binary, CancellationToken cancellationToken)
    {
        try
        {
            var result = await HostProcess.RunAsync(binary, ["--version"], ProbeTimeout, cancellationToken, MaxCapturedBytes).ConfigureAwait(false);
            return result.ExitCode == 0 ? Parse(result.Stdout.Text()) : null;
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or TimeoutException)
        {
            return null;
        }
    }
}

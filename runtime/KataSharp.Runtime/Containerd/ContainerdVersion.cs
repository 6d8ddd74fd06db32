using System.Diagnostics;
using System.Globalization;

namespace KataSharp.Runtime.Containerd;

/// <summary>The release of a containerd binary, as its <c>--version</c> prints it.</summary>
public sealed record ContainerdVersion(int Major, int Minor)
{
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(3);

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
        var start = new ProcessStartInfo(binary, ["--version"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        Process? process;
        try
        {
            process = Process.Start(start);
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }

        if (process is null)
        {
            return null;
        }

        using (process)
        {
            process.StandardInput.Close();
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(ProbeTimeout);
            var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
            var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
            try
            {
                await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
                var output = await stdout.ConfigureAwait(false);
                await stderr.ConfigureAwait(false);
                return process.ExitCode == 0 ? Parse(output) : null;
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                process.Kill(entireProcessTree: true);
                return null;
            }
        }
    }
}

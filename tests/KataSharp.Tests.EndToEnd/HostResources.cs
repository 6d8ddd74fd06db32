using System.Diagnostics;

namespace KataSharp.Tests.EndToEnd;

/// <summary>What a sandbox leaves on the host if it leaks: QEMU and shim processes, mounts, directories.</summary>
public static class HostResources
{
    /// <summary>Command lines of live processes that mention <paramref name="marker"/>.</summary>
    public static IReadOnlyList<string> ProcessesMentioning(string marker)
    {
        var found = new List<string>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid) || pid == Environment.ProcessId)
            {
                continue;
            }

            try
            {
                var cmdline = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ');
                if (cmdline.Contains(marker, StringComparison.Ordinal))
                {
                    found.Add($"{pid}: {cmdline}");
                }
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }

        return found;
    }

    public static IReadOnlyList<string> MountsUnder(string directory) =>
        File.ReadLines("/proc/self/mountinfo")
            .Select(line => line.Split(' ')[4])
            .Where(point => point.StartsWith(directory, StringComparison.Ordinal))
            .ToList();

    public static IReadOnlyList<string> SandboxDirectories(string stateDir)
    {
        var sandboxes = Path.Combine(stateDir, "sandboxes");
        return Directory.Exists(sandboxes) ? Directory.EnumerateDirectories(sandboxes).ToList() : [];
    }

    /// <summary>Polls until <paramref name="condition"/> holds: teardown is asynchronous in containerd.</summary>
    public static async Task<bool> EventuallyAsync(Func<bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (condition())
            {
                return true;
            }

            await Task.Delay(200);
        }

        return condition();
    }

    public static void RemoveLink(string name)
    {
        using var ip = Process.Start(new ProcessStartInfo("ip", ["link", "del", name]) { RedirectStandardError = true, UseShellExecute = false });
        ip?.WaitForExit(10_000);
    }
}

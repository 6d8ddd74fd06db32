using System.Net.Sockets;
using KataSharp.Runtime.Sandbox;

namespace KataSharp.Runtime.Metrics;

/// <summary>
/// What <c>katasharp monitor</c> serves, as kata-monitor does for Kata: every live shim's metrics socket under
/// the state directory, scraped concurrently, each within its own timeout, merged with a sandbox label.
/// A socket nobody listens on any more (its shim is gone) is not a pod; one that does not answer in time is
/// reported with <c>katasharp_monitor_scrape_up 0</c>.
/// </summary>
public sealed class NodeMonitor(string stateDir, TimeSpan scrapeTimeout)
{
    public static readonly TimeSpan DefaultScrapeTimeout = TimeSpan.FromSeconds(5);

    public async Task<string> CollectAsync(CancellationToken cancellationToken) =>
        MetricsMerge.Merge((await Task.WhenAll(ShimSockets().Select(s => ScrapeAsync(s.SandboxId, s.Socket, cancellationToken))).ConfigureAwait(false))
            .OfType<ShimScrape>());

    /// <summary>The sandboxes whose directory holds a metrics socket.</summary>
    public IEnumerable<(string SandboxId, string Socket)> ShimSockets()
    {
        var sandboxes = SandboxPaths.SandboxesDirectory(stateDir);
        if (!Directory.Exists(sandboxes))
        {
            return [];
        }

        return Directory.EnumerateDirectories(sandboxes)
            .Select(d => (SandboxId: Path.GetFileName(d), Socket: Path.Combine(d, SandboxPaths.MonitorSocketName)))
            .Where(s => File.Exists(s.Socket))
            .OrderBy(s => s.SandboxId, StringComparer.Ordinal)
            .ToList();
    }

    private async Task<ShimScrape?> ScrapeAsync(string sandboxId, string socket, CancellationToken cancellationToken)
    {
        try
        {
            return new ShimScrape(sandboxId, await MetricsHttp.GetAsync(new UnixDomainSocketEndPoint(socket), scrapeTimeout, cancellationToken).ConfigureAwait(false), null);
        }
        catch (IOException e) when (e.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionRefused or SocketError.AddressNotAvailable })
        {
            return null;
        }
        catch (IOException e)
        {
            return new ShimScrape(sandboxId, null, e.Message);
        }
    }
}

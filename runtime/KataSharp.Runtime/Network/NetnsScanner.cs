namespace KataSharp.Runtime.Network;

/// <summary>Reads a network namespace's links, addresses, routes and neighbours with <c>ip -j</c>.</summary>
public sealed class NetnsScanner
{
    private readonly INetnsCommandRunner _runner;

    public NetnsScanner(INetnsCommandRunner runner) => _runner = runner;

    /// <exception cref="NetworkException">InvalidArgument when the namespace does not exist; Internal when ip fails.</exception>
    public async Task<NetnsSnapshot> ScanAsync(string? netnsPath, CancellationToken cancellationToken)
    {
        if (netnsPath is not null && !File.Exists(netnsPath))
        {
            throw new NetworkException($"network namespace {netnsPath} does not exist", NetworkErrorKind.InvalidArgument);
        }

        // The queries are independent: run them side by side, since each is a process start on the sandbox's critical path.
        // -d adds linkinfo (the link kind: veth, tun, ...) to each link; addr show lists links without addresses too.
        var links = _runner.RunCheckedAsync(netnsPath, ["ip", "-j", "-d", "addr", "show"], cancellationToken);
        var routes4 = _runner.RunCheckedAsync(netnsPath, ["ip", "-j", "-4", "route", "show", "table", "main"], cancellationToken);
        var routes6 = Ipv6RoutesAsync(netnsPath, cancellationToken);
        var neighbors = _runner.RunCheckedAsync(netnsPath, ["ip", "-j", "neigh", "show"], cancellationToken);
        await Task.WhenAll(links, routes4, routes6, neighbors).ConfigureAwait(false);
        return new NetnsSnapshot(
            IpJsonParser.ParseLinks(await links.ConfigureAwait(false)),
            [.. IpJsonParser.ParseRoutes(await routes4.ConfigureAwait(false), ipv6: false), .. await routes6.ConfigureAwait(false)],
            IpJsonParser.ParseNeighbors(await neighbors.ConfigureAwait(false)));
    }

    private async Task<IReadOnlyList<NetnsRoute>> Ipv6RoutesAsync(string? netnsPath, CancellationToken cancellationToken)
    {
        var result = await _runner.RunAsync(netnsPath, ["ip", "-j", "-6", "route", "show", "table", "main"], cancellationToken).ConfigureAwait(false);
        // A host booted with ipv6.disable=1 has no IPv6 routing table to show.
        return result.Succeeded ? IpJsonParser.ParseRoutes(result.Stdout, ipv6: true) : [];
    }
}

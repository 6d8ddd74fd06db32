using System.Globalization;
using System.Net;
using System.Net.Sockets;
using KataSharp.Agent.Processes;
using KataSharp.Protocol.Agent.V1;
using Microsoft.Extensions.Logging;

namespace KataSharp.Agent.Network;

/// <summary>
/// Configures the guest's links, addresses, routes and neighbours with busybox `ip` and `arp`.
/// The host sends what CNI set up in the pod's network namespace; the guest mirrors it.
/// </summary>
internal sealed partial class NetworkConfigurator
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(10);

    private readonly CommandRunner _runner;
    private readonly string _busybox;
    private readonly string _sysClassNet;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _gate = new(1, 1);

    public NetworkConfigurator(CommandRunner runner, string busybox, ILogger<NetworkConfigurator> logger, string sysClassNet = "/sys/class/net")
    {
        _runner = runner;
        _busybox = busybox;
        _sysClassNet = sysClassNet;
        _logger = logger;
    }

    public async Task<Interface> UpdateInterfaceAsync(Interface? requested, CancellationToken cancellationToken)
    {
        if (requested is null || string.IsNullOrWhiteSpace(requested.HwAddr))
        {
            throw AgentErrors.InvalidArgument("interface.hw_addr is required to find the link");
        }

        foreach (var address in requested.Addresses)
        {
            ValidateAddress(address);
        }

        if (requested.Name.Length > 0 && !IsValidLinkName(requested.Name))
        {
            throw AgentErrors.InvalidArgument($"interface name '{requested.Name}' is not a valid link name");
        }

        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var link = FindLinkByMac(requested.HwAddr)
                ?? throw AgentErrors.NotFound($"no link with hardware address {requested.HwAddr}");
            if (requested.Name.Length > 0 && requested.Name != link)
            {
                await IpAsync(cancellationToken, "link", "set", "dev", link, "down").ConfigureAwait(false);
                await IpAsync(cancellationToken, "link", "set", "dev", link, "name", requested.Name).ConfigureAwait(false);
                link = requested.Name;
            }

            if (requested.Mtu > 0)
            {
                await IpAsync(cancellationToken, "link", "set", "dev", link, "mtu", requested.Mtu.ToString(CultureInfo.InvariantCulture)).ConfigureAwait(false);
            }

            await IpAsync(cancellationToken, "addr", "flush", "dev", link).ConfigureAwait(false);
            foreach (var address in requested.Addresses)
            {
                await IpAsync(cancellationToken, FamilyFlag(address.Family), "addr", "add",
                    $"{address.Address}/{address.PrefixLength.ToString(CultureInfo.InvariantCulture)}", "dev", link).ConfigureAwait(false);
            }

            await IpAsync(cancellationToken, "link", "set", "dev", link, requested.Up ? "up" : "down").ConfigureAwait(false);
            LogInterfaceUpdated(_logger, link, requested.HwAddr, requested.Addresses.Count);
            var interfaces = await ListInterfacesCoreAsync(cancellationToken).ConfigureAwait(false);
            return interfaces.Interfaces_.First(i => i.Name == link);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Makes the routes the requested ones: gateway routes not requested are deleted, requested
    /// routes are replaced, link routes first so gateways are reachable. Kernel link routes of the
    /// addresses stay.
    /// </summary>
    public async Task<Routes> UpdateRoutesAsync(Routes? requested, CancellationToken cancellationToken)
    {
        var desired = requested?.Routes_.ToList() ?? [];
        foreach (var route in desired)
        {
            ValidateRoute(route);
        }

        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var current = await ListRoutesCoreAsync(cancellationToken).ConfigureAwait(false);
            foreach (var stale in current.Routes_.Where(r => r.Gateway.Length > 0 && !desired.Any(d => SameRoute(d, r))))
            {
                var args = new List<string> { FamilyFlag(stale.Family), "route", "del", stale.Destination.Length == 0 ? "default" : stale.Destination, "via", stale.Gateway };
                if (stale.Device.Length > 0)
                {
                    args.AddRange(["dev", stale.Device]);
                }

                await IpAsync(cancellationToken, [.. args]).ConfigureAwait(false);
            }

            foreach (var route in desired.OrderBy(r => r.Gateway.Length > 0))
            {
                await IpAsync(cancellationToken, [.. RouteArguments(route)]).ConfigureAwait(false);
            }

            LogRoutesUpdated(_logger, desired.Count);
            return await ListRoutesCoreAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task AddArpNeighborsAsync(IEnumerable<ArpNeighbor> neighbors, CancellationToken cancellationToken)
    {
        var list = neighbors.ToList();
        foreach (var neighbor in list)
        {
            if (!IPAddress.TryParse(neighbor.IpAddress, out _) || !IsMac(neighbor.HwAddr) || !IsValidLinkName(neighbor.Device))
            {
                throw AgentErrors.InvalidArgument($"neighbor {neighbor.IpAddress} {neighbor.HwAddr} dev {neighbor.Device} is not valid");
            }
        }

        // Under the same gate as the interface and route updates: an interface flush racing an arp -s would lose the entry.
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            foreach (var neighbor in list)
            {
                if (IPAddress.Parse(neighbor.IpAddress).AddressFamily != AddressFamily.InterNetwork)
                {
                    // busybox's ip cannot add neighbours and its arp is IPv4 only.
                    LogNeighborSkipped(_logger, neighbor.IpAddress);
                    continue;
                }

                var result = await _runner.RunAsync([_busybox, "arp", "-i", neighbor.Device, "-s", neighbor.IpAddress, neighbor.HwAddr],
                    CommandTimeout, cancellationToken).ConfigureAwait(false);
                if (!result.Succeeded)
                {
                    throw AgentErrors.Internal($"arp -s {neighbor.IpAddress} failed: {result.Diagnostics}");
                }
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task<Interfaces> ListInterfacesAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await ListInterfacesCoreAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task<Routes> ListRoutesAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await ListRoutesCoreAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Brings the loopback link up, as init must.</summary>
    public Task BringUpLoopbackAsync(CancellationToken cancellationToken) =>
        IpAsync(cancellationToken, "link", "set", "dev", "lo", "up");

    private async Task<Interfaces> ListInterfacesCoreAsync(CancellationToken cancellationToken)
    {
        var addresses = IpOutputParser.ParseAddresses(await IpAsync(cancellationToken, "-o", "addr", "show").ConfigureAwait(false));
        var result = new Interfaces();
        if (!Directory.Exists(_sysClassNet))
        {
            return result;
        }

        foreach (var dir in Directory.EnumerateDirectories(_sysClassNet).Order(StringComparer.Ordinal))
        {
            var name = Path.GetFileName(dir);
            var iface = new Interface
            {
                Name = name,
                HwAddr = ReadSys(dir, "address"),
                Mtu = uint.TryParse(ReadSys(dir, "mtu"), CultureInfo.InvariantCulture, out var mtu) ? mtu : 0,
                // IFF_UP is bit 0 of the flags.
                Up = ulong.TryParse(ReadSys(dir, "flags").Replace("0x", string.Empty, StringComparison.Ordinal), NumberStyles.HexNumber,
                    CultureInfo.InvariantCulture, out var flags) && (flags & 1) != 0,
            };
            if (addresses.TryGetValue(name, out var list))
            {
                iface.Addresses.AddRange(list);
            }

            result.Interfaces_.Add(iface);
        }

        return result;
    }

    private async Task<Routes> ListRoutesCoreAsync(CancellationToken cancellationToken)
    {
        var routes = new Routes();
        routes.Routes_.AddRange(IpOutputParser.ParseRoutes(await IpAsync(cancellationToken, "route", "show").ConfigureAwait(false), IpFamily.Ipv4));
        try
        {
            routes.Routes_.AddRange(IpOutputParser.ParseRoutes(await IpAsync(cancellationToken, "-6", "route", "show").ConfigureAwait(false), IpFamily.Ipv6));
        }
        catch (Grpc.Core.RpcException)
        {
            // A guest kernel without IPv6 has no IPv6 routes to list.
        }

        return routes;
    }

    internal static List<string> RouteArguments(Route route)
    {
        var args = new List<string> { FamilyFlag(route.Family), "route", "replace", route.Destination.Length == 0 ? "default" : route.Destination };
        if (route.Gateway.Length > 0)
        {
            args.AddRange(["via", route.Gateway]);
        }

        if (route.Device.Length > 0)
        {
            args.AddRange(["dev", route.Device]);
        }

        if (route.Source.Length > 0)
        {
            args.AddRange(["src", route.Source]);
        }

        if (route.Scope != 0)
        {
            args.AddRange(["scope", IpOutputParser.ScopeName(route.Scope)]);
        }

        if (route.Mtu > 0)
        {
            args.AddRange(["mtu", route.Mtu.ToString(CultureInfo.InvariantCulture)]);
        }

        return args;
    }

    private async Task<string> IpAsync(CancellationToken cancellationToken, params string[] args)
    {
        var argv = new List<string> { _busybox, "ip" };
        argv.AddRange(args.Where(a => a.Length > 0));
        var result = await _runner.RunAsync(argv, CommandTimeout, cancellationToken).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            throw AgentErrors.Internal($"ip {string.Join(' ', args.Where(a => a.Length > 0))} failed: {result.Diagnostics}");
        }

        return result.Stdout;
    }

    private string? FindLinkByMac(string mac)
    {
        if (!Directory.Exists(_sysClassNet))
        {
            return null;
        }

        return Directory.EnumerateDirectories(_sysClassNet)
            .FirstOrDefault(dir => string.Equals(ReadSys(dir, "address"), mac.Trim(), StringComparison.OrdinalIgnoreCase)) is { } found
            ? Path.GetFileName(found)
            : null;
    }

    private static string ReadSys(string dir, string file)
    {
        try
        {
            return File.ReadAllText(Path.Combine(dir, file)).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return string.Empty;
        }
    }

    private static string FamilyFlag(IpFamily family) => family == IpFamily.Ipv6 ? "-6" : string.Empty;

    private static bool SameRoute(Route a, Route b) =>
        a.Family == b.Family && a.Destination == b.Destination && a.Gateway == b.Gateway && (a.Device.Length == 0 || a.Device == b.Device);

    private static void ValidateAddress(IpAddress address)
    {
        if (!IPAddress.TryParse(address.Address, out var ip))
        {
            throw AgentErrors.InvalidArgument($"'{address.Address}' is not an IP address");
        }

        var v6 = ip.AddressFamily == AddressFamily.InterNetworkV6;
        if (v6 != (address.Family == IpFamily.Ipv6) || address.PrefixLength > (v6 ? 128u : 32u))
        {
            throw AgentErrors.InvalidArgument($"{address.Address}/{address.PrefixLength} does not match family {address.Family}");
        }
    }

    private static void ValidateRoute(Route route)
    {
        if (route.Destination.Length > 0)
        {
            var parts = route.Destination.Split('/');
            if (parts.Length > 2 || !IPAddress.TryParse(parts[0], out _) || (parts.Length == 2 && !byte.TryParse(parts[1], CultureInfo.InvariantCulture, out _)))
            {
                throw AgentErrors.InvalidArgument($"route destination '{route.Destination}' is not a CIDR");
            }
        }

        if ((route.Gateway.Length > 0 && !IPAddress.TryParse(route.Gateway, out _))
            || (route.Source.Length > 0 && !IPAddress.TryParse(route.Source, out _))
            || (route.Device.Length > 0 && !IsValidLinkName(route.Device)))
        {
            throw AgentErrors.InvalidArgument($"route to '{route.Destination}' has an invalid gateway, source or device");
        }

        if (route.Gateway.Length == 0 && route.Device.Length == 0)
        {
            throw AgentErrors.InvalidArgument($"route to '{route.Destination}' needs a gateway or a device");
        }
    }

    private static bool IsValidLinkName(string name) =>
        name.Length is > 0 and <= 15 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '@');

    private static bool IsMac(string mac) =>
        mac.Split(':') is { Length: 6 } parts && parts.All(p => p.Length == 2 && p.All(char.IsAsciiHexDigit));

    [LoggerMessage(Level = LogLevel.Information, Message = "interface {Link} ({Mac}) configured with {Count} addresses")]
    private static partial void LogInterfaceUpdated(ILogger logger, string link, string mac, int count);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Count} routes applied")]
    private static partial void LogRoutesUpdated(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "neighbour {Ip} skipped: IPv6 neighbours cannot be added with busybox")]
    private static partial void LogNeighborSkipped(ILogger logger, string ip);
}

using System.Net;

namespace KataSharp.Runtime.Network;

/// <summary>The host's resolver settings, for sandboxes that get our NAT network (as Docker's default bridge does).</summary>
/// <param name="Warning">Why the guest's servers differ from resolv.conf's, for the user; null when they do not.</param>
public sealed record HostDns(IReadOnlyList<string> Servers, IReadOnlyList<string> Searches, IReadOnlyList<string> Options, string? Warning = null)
{
    /// <summary>systemd-resolved's list of the servers it forwards to, beside its 127.0.0.53 stub.</summary>
    public const string SystemdResolvedUpstream = "/run/systemd/resolve/resolv.conf";

    public static HostDns Empty { get; } = new([], [], []);

    /// <summary>
    /// Reads resolv.conf. Loopback servers (systemd-resolved's 127.0.0.53, a local dnsmasq) are left out: in the
    /// guest, loopback is the guest's own. When only loopback servers are there, the guest gets the upstream
    /// servers systemd-resolved lists, with a warning.
    /// </summary>
    public static HostDns FromResolvConf(string path = "/etc/resolv.conf", string upstreamPath = SystemdResolvedUpstream)
    {
        if (Read(path) is not { } text)
        {
            return Empty;
        }

        var dns = Parse(text);
        if (dns.Servers.Count > 0 || !HasLoopbackServer(text))
        {
            return dns;
        }

        var upstream = Read(upstreamPath) is { } upstreamText ? Parse(upstreamText).Servers : [];
        return upstream.Count > 0
            ? dns with { Servers = upstream, Warning = $"{path} lists only loopback DNS servers, which the guest cannot reach; it uses {string.Join(", ", upstream)} from {upstreamPath}" }
            : dns with { Warning = $"{path} lists only loopback DNS servers, which the guest cannot reach, and {upstreamPath} lists none: the guest has no DNS server" };
    }

    private static string? Read(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static bool HasLoopbackServer(string text) => text.Split('\n')
        .Select(l => l.Split('#', ';')[0].Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries))
        .Any(f => f.Length >= 2 && f[0] == "nameserver" && IPAddress.TryParse(f[1], out var address) && IPAddress.IsLoopback(address));

    /// <summary>resolv.conf text for these settings (empty lines left out).</summary>
    public string Render()
    {
        var text = new System.Text.StringBuilder();
        foreach (var server in Servers)
        {
            text.Append("nameserver ").Append(server).Append('\n');
        }

        if (Searches.Count > 0)
        {
            text.Append("search ").AppendJoin(' ', Searches).Append('\n');
        }

        if (Options.Count > 0)
        {
            text.Append("options ").AppendJoin(' ', Options).Append('\n');
        }

        return text.ToString();
    }

    public static HostDns Parse(string text)
    {
        var servers = new List<string>();
        var searches = new List<string>();
        var options = new List<string>();
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Split('#', ';')[0].Trim();
            var fields = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 2)
            {
                continue;
            }

            switch (fields[0])
            {
                case "nameserver" when IPAddress.TryParse(fields[1], out var address) && !IPAddress.IsLoopback(address):
                    servers.Add(fields[1]);
                    break;
                case "search" or "domain":
                    searches.Clear();
                    searches.AddRange(fields.Skip(1));
                    break;
                case "options":
                    options.AddRange(fields.Skip(1));
                    break;
            }
        }

        return new HostDns(servers, searches, options);
    }
}

using System.Net;

namespace KataSharp.Runtime.Network;

/// <summary>The host's resolver settings, for sandboxes that get our NAT network (as Docker's default bridge does).</summary>
public sealed record HostDns(IReadOnlyList<string> Servers, IReadOnlyList<string> Searches, IReadOnlyList<string> Options)
{
    public static HostDns Empty { get; } = new([], [], []);

    /// <summary>
    /// Reads resolv.conf. Loopback servers (systemd-resolved's 127.0.0.53, a local dnsmasq) are left out: in the
    /// guest, loopback is the guest's own.
    /// </summary>
    public static HostDns FromResolvConf(string path = "/etc/resolv.conf")
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Empty;
        }

        return Parse(text);
    }

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

using System.Text;
using KataSharp.Protocol.Agent.V1;

namespace KataSharp.Agent.Sandbox;

/// <summary>Renders the guest's /etc/resolv.conf and /etc/hosts from CreateSandbox.</summary>
internal static class NameResolutionFiles
{
    public static string RenderResolvConf(Dns? dns)
    {
        var text = new StringBuilder();
        if (dns is null)
        {
            return string.Empty;
        }

        foreach (var server in dns.Servers.Where(s => !string.IsNullOrWhiteSpace(s)))
        {
            text.Append("nameserver ").Append(SingleLine(server)).Append('\n');
        }

        var searches = dns.Searches.Where(s => !string.IsNullOrWhiteSpace(s)).Select(SingleLine).ToList();
        if (searches.Count > 0)
        {
            text.Append("search ").AppendJoin(' ', searches).Append('\n');
        }

        var options = dns.Options.Where(s => !string.IsNullOrWhiteSpace(s)).Select(SingleLine).ToList();
        if (options.Count > 0)
        {
            text.Append("options ").AppendJoin(' ', options).Append('\n');
        }

        return text.ToString();
    }

    public static string RenderHosts(string hostname, IEnumerable<string> extraLines)
    {
        var text = new StringBuilder();
        text.Append("127.0.0.1\tlocalhost\n");
        text.Append("::1\tlocalhost ip6-localhost ip6-loopback\n");
        if (!string.IsNullOrWhiteSpace(hostname))
        {
            text.Append("127.0.1.1\t").Append(SingleLine(hostname)).Append('\n');
        }

        foreach (var line in extraLines.Where(l => !string.IsNullOrWhiteSpace(l)))
        {
            text.Append(SingleLine(line)).Append('\n');
        }

        return text.ToString();
    }

    /// <summary>One request field must not become several lines of a config file.</summary>
    private static string SingleLine(string value) => value.Replace('\n', ' ').Replace('\r', ' ').Trim();
}

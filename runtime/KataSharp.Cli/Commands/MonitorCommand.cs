using System.Net;
using System.Net.Sockets;
using KataSharp.Runtime.Metrics;

namespace KataSharp.Cli.Commands;

/// <summary><c>katasharp monitor</c>: every pod's metrics on one HTTP port, as kata-monitor serves Kata's.</summary>
internal static class MonitorCommand
{
    public static readonly CommandSyntax Syntax = new()
    {
        Name = "monitor",
        Summary = "Serve every pod's Prometheus metrics on one HTTP port",
        Description = """
            Serve the Prometheus metrics of every pod on this node at http://ADDRESS:PORT/metrics.
            Each scrape asks every live shim, found by its monitor.sock under <stateDir>/sandboxes/,
            concurrently and within 5 s each, and labels each sample with its sandbox. Prints the
            address once it listens; runs until interrupted.
            """,
        Options = [CliOption.Value("listen", "ADDRESS:PORT", "where to listen (default 127.0.0.1:8090; port 0 picks a free one)")],
    };

    public static async Task<int> ExecuteAsync(GlobalOptions global, IReadOnlyList<string> args, CancellationToken shutdown)
    {
        var reader = Syntax.Parse(args);
        if (Syntax.PrintedHelp(reader))
        {
            return 0;
        }

        if (reader.Positionals.Count > 0)
        {
            throw new UsageException("monitor takes no arguments");
        }

        var endpoint = ParseListen(reader.Get("listen") ?? "127.0.0.1:8090");
        using var context = CliContext.Create(global, reader);
        using var listener = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            listener.Bind(endpoint);
            listener.Listen(32);
        }
        catch (SocketException e)
        {
            throw new UsageException($"cannot listen on {endpoint}: {e.Message}");
        }

        System.Console.WriteLine($"http://{listener.LocalEndPoint}{MetricsHttp.Path}");
        var monitor = new NodeMonitor(context.Config.Runtime.StateDir, NodeMonitor.DefaultScrapeTimeout);
        await MetricsHttp.ServeAsync(listener, monitor.CollectAsync, null, shutdown).ConfigureAwait(false);
        return 0;
    }

    internal static IPEndPoint ParseListen(string value) =>
        IPEndPoint.TryParse(value, out var endpoint) && value.Contains(':', StringComparison.Ordinal)
            ? endpoint
            : throw new UsageException($"--listen wants ADDRESS:PORT (such as 127.0.0.1:8090), not '{value}'");
}

using System.Globalization;
using KataSharp.Runtime.Network;

namespace KataSharp.Shim.PortForward;

/// <summary>
/// The nat rule in the pod's network namespace that sends every TCP connection to 127.0.0.0/8 (what
/// containerd's port-forward dials there) to the shim's listener. It lives in a chain of its own, jumped to
/// from OUTPUT for lo only, so that installing is idempotent (a chain a crashed shim left is flushed and
/// reused) and removing takes exactly what we added. The namespace itself goes with the pod.
/// </summary>
internal sealed class LoopbackRedirect
{
    public const string Chain = "KATASHARP-PF";

    private readonly INetnsCommandRunner _runner;
    private readonly string _netnsPath;

    public LoopbackRedirect(INetnsCommandRunner runner, string netnsPath)
    {
        _runner = runner;
        _netnsPath = netnsPath;
    }

    /// <exception cref="NetworkException">iptables is missing or refused a rule.</exception>
    public async Task InstallAsync(int listenerPort, CancellationToken cancellationToken)
    {
        // -N fails when the chain exists (a crashed shim's): then the flush below empties it.
        await _runner.RunAsync(_netnsPath, Nat("-N", Chain), cancellationToken).ConfigureAwait(false);
        await _runner.RunCheckedAsync(_netnsPath, Nat("-F", Chain), cancellationToken).ConfigureAwait(false);
        await _runner.RunCheckedAsync(_netnsPath, RedirectRule(listenerPort), cancellationToken).ConfigureAwait(false);
        var jumps = await _runner.RunAsync(_netnsPath, Nat(["-C", .. Jump]), cancellationToken).ConfigureAwait(false);
        if (!jumps.Succeeded)
        {
            await _runner.RunCheckedAsync(_netnsPath, Nat(["-I", "OUTPUT", "1", .. Jump[1..]]), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Best effort: every step runs even when one fails (the namespace may be gone already).</summary>
    /// <returns>What failed, for the log; empty when everything was removed.</returns>
    public async Task<IReadOnlyList<string>> RemoveAsync(CancellationToken cancellationToken)
    {
        if (!File.Exists(_netnsPath))
        {
            return [];
        }

        var failures = new List<string>();
        foreach (var command in new[] { Nat(["-D", .. Jump]), Nat("-F", Chain), Nat("-X", Chain) })
        {
            try
            {
                var result = await _runner.RunAsync(_netnsPath, command, cancellationToken).ConfigureAwait(false);
                if (!result.Succeeded)
                {
                    failures.Add($"{string.Join(' ', command)}: {result.Stderr.Trim()}");
                }
            }
            catch (NetworkException e)
            {
                failures.Add(e.Message);
            }
        }

        return failures;
    }

    /// <summary><c>-A KATASHARP-PF -p tcp -d 127.0.0.0/8 -j REDIRECT --to-ports PORT</c>: locally made connections keep 127.0.0.1 and get our port.</summary>
    internal static IReadOnlyList<string> RedirectRule(int listenerPort) =>
        Nat("-A", Chain, "-p", "tcp", "-d", "127.0.0.0/8", "-j", "REDIRECT", "--to-ports", listenerPort.ToString(CultureInfo.InvariantCulture));

    /// <summary>OUTPUT, for lo only, jumps to our chain.</summary>
    private static string[] Jump => ["OUTPUT", "-o", "lo", "-j", Chain];

    /// <summary>iptables on the nat table, waiting up to 5 s for the xtables lock another tool may hold.</summary>
    private static IReadOnlyList<string> Nat(params string[] arguments) => ["iptables", "-w", "5", "-t", "nat", .. arguments];
}

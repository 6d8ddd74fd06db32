using System.Diagnostics;
using System.Net;
using KataSharp.Runtime.Network;
using KataSharp.Shim.PortForward;
using KataSharp.Tests.Unit.Native;
using Microsoft.Extensions.Logging.Abstractions;

namespace KataSharp.Tests.Unit.PortForward;

/// <summary>
/// The host side of port-forwarding in a real network namespace with real iptables, as containerd uses it:
/// a client in the namespace dials 127.0.0.1:PORT (nothing of ours listens on PORT) and reaches the guest,
/// which learns PORT; stopping leaves the namespace as it was.
/// </summary>
public sealed class PodPortForwarderTests : IDisposable
{
    private const string Ip = "/usr/sbin/ip";
    private const string Iptables = "/usr/sbin/iptables";
    private const string Busybox = "/usr/bin/busybox";
    private static readonly TimeSpan Hang = TimeSpan.FromSeconds(30);
    private readonly string _name = $"ks-pf-{Environment.ProcessId}-{Random.Shared.Next(100000)}";

    private string NetnsPath => $"/var/run/netns/{_name}";

    public void Dispose()
    {
        if (File.Exists(NetnsPath))
        {
            Run(Ip, "netns", "del", _name);
        }
    }

    [RootFact(Ip, Iptables, Busybox)]
    public async Task A_client_in_the_pods_namespace_dialling_localhost_reaches_the_guest_port_and_stopping_removes_every_trace()
    {
        Run(Ip, "netns", "add", _name);
        Run(Ip, "netns", "exec", _name, Ip, "link", "set", "lo", "up");
        var guest = new ScriptedGuest();
        guest.Send("hello from the guest\n"u8.ToArray());
        guest.EndOfStream();

        var forwarder = await PodPortForwarder.StartAsync(NetnsPath, guest, NetnsCommandRunner.Default, NullLogger.Instance, CancellationToken.None);
        string reply;
        try
        {
            Assert.Contains($"--to-ports {forwarder.ListenerPort}", Run(Ip, "netns", "exec", _name, Iptables, "-t", "nat", "-S", LoopbackRedirect.Chain), StringComparison.Ordinal);
            reply = Run(Ip, "netns", "exec", _name, Busybox, "nc", "127.0.0.1", "8080");
            await guest.Closed.Task.WaitAsync(Hang);
        }
        finally
        {
            await forwarder.DisposeAsync();
        }

        Assert.Equal("hello from the guest\n", reply);
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 8080), guest.OpenedTo);
        Assert.Equal(1, guest.Closes);
        Assert.DoesNotContain(LoopbackRedirect.Chain, Run(Ip, "netns", "exec", _name, Iptables, "-t", "nat", "-S"), StringComparison.Ordinal);

        // With the rule and the listener gone, the port is closed again, as in any namespace where nothing listens.
        var refused = Start(Ip, "netns", "exec", _name, Busybox, "nc", "127.0.0.1", "8080");
        await refused.WaitForExitAsync().WaitAsync(Hang);
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Equal(1, guest.Opens);
    }

    private static string Run(string program, params string[] arguments)
    {
        using var process = Start(program, arguments);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(Hang))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', arguments)} did not finish");
        }

        Assert.True(process.ExitCode == 0, $"{program} {string.Join(' ', arguments)}: exit {process.ExitCode}: {stderr.Result}");
        return stdout.Result;
    }

    private static Process Start(string program, params string[] arguments)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        var process = Process.Start(info)!;
        process.StandardInput.Close();
        return process;
    }
}

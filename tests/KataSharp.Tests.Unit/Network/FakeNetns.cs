using KataSharp.Runtime.Network;
using Moq;

namespace KataSharp.Tests.Unit.Network;

/// <summary>One command a fake runner was asked to run.</summary>
internal sealed record RanCommand(string? Netns, IReadOnlyList<string> Command)
{
    public string Line => string.Join(' ', Command);

    public override string ToString() => Netns is null ? Line : $"[{Path.GetFileName(Netns)}] {Line}";
}

/// <summary>
/// A Moq <see cref="INetnsCommandRunner"/> that records every command and answers from a handler. The
/// namespace paths are real (empty) files in a temporary directory, because the code under test checks
/// that a namespace exists before it runs anything in it.
/// </summary>
internal sealed class FakeNetns : IDisposable
{
    private readonly Mock<INetnsCommandRunner> _mock = new(MockBehavior.Strict);
    private readonly List<RanCommand> _ran = [];

    public FakeNetns()
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("katasharp-netns-test-").FullName;
        _mock.Setup(r => r.RunAsync(It.IsAny<string?>(), It.IsAny<IReadOnlyList<string>>(), It.IsAny<CancellationToken>()))
            .Returns((string? netns, IReadOnlyList<string> command, CancellationToken _) =>
            {
                var ran = new RanCommand(netns, command.ToList());
                lock (_ran)
                {
                    _ran.Add(ran);
                }

                return Task.FromResult(Handler(ran));
            });
    }

    /// <summary>A directory standing in for /var/run/netns.</summary>
    public string Directory { get; }

    public INetnsCommandRunner Runner => _mock.Object;

    /// <summary>Answers each command; the default succeeds with no output.</summary>
    public Func<RanCommand, CommandResult> Handler { get; set; } = _ => Ok();

    public IReadOnlyList<RanCommand> Ran
    {
        get
        {
            lock (_ran)
            {
                return _ran.ToList();
            }
        }
    }

    public IReadOnlyList<string> Lines => Ran.Select(r => r.Line).ToList();

    /// <summary>An existing file that passes for a network namespace.</summary>
    public string Netns(string name)
    {
        var path = Path.Combine(Directory, name);
        File.WriteAllText(path, "");
        return path;
    }

    public void Clear()
    {
        lock (_ran)
        {
            _ran.Clear();
        }
    }

    public static CommandResult Ok(string stdout = "") => new(0, stdout, "");

    public static CommandResult Fail(string stderr, int exitCode = 2) => new(exitCode, "", stderr);

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
}

/// <summary>ip and tc JSON as iproute2 6.1 prints it, captured from a CNI-like namespace on the development host.</summary>
internal static class IpSamples
{
    public const string VethMac = "4e:2a:2e:2b:b2:0c";

    public const string Addr = """
        [{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP","LOWER_UP"],"mtu":65536,"qdisc":"noqueue","operstate":"UNKNOWN","group":"default","txqlen":1000,"link_type":"loopback","address":"00:00:00:00:00:00","broadcast":"00:00:00:00:00:00","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8,"scope":"host","label":"lo","valid_life_time":4294967295,"preferred_life_time":4294967295},{"family":"inet6","local":"::1","prefixlen":128,"scope":"host","valid_life_time":4294967295,"preferred_life_time":4294967295}]},
         {"ifindex":2,"link_index":5,"ifname":"eth0","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1450,"qdisc":"noqueue","operstate":"UP","group":"default","txqlen":1000,"link_type":"ether","address":"4E:2A:2E:2B:B2:0C","broadcast":"ff:ff:ff:ff:ff:ff","link_netnsid":0,"linkinfo":{"info_kind":"veth"},"addr_info":[{"family":"inet","local":"10.99.7.2","prefixlen":24,"scope":"global","label":"eth0","valid_life_time":4294967295,"preferred_life_time":4294967295},{"family":"inet6","local":"fd00:99::2","prefixlen":64,"scope":"global","nodad":true,"valid_life_time":4294967295,"preferred_life_time":4294967295},{"family":"inet6","local":"fe80::4c2a:2eff:fe2b:b20c","prefixlen":64,"scope":"link","valid_life_time":4294967295,"preferred_life_time":4294967295}]}]
        """;

    public const string TwoVeths = """
        [{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP"],"mtu":65536,"link_type":"loopback","address":"00:00:00:00:00:00","addr_info":[]},
         {"ifindex":3,"ifname":"net1","flags":["BROADCAST","UP"],"mtu":9000,"link_type":"ether","address":"02:00:00:00:00:03","linkinfo":{"info_kind":"macvlan"},"addr_info":[{"family":"inet","local":"192.168.50.3","prefixlen":24}]},
         {"ifindex":2,"ifname":"eth0","flags":["BROADCAST"],"mtu":1500,"link_type":"ether","address":"02:00:00:00:00:02","linkinfo":{"info_kind":"veth"},"addr_info":[{"family":"inet","local":"10.0.0.2","prefixlen":24}]},
         {"ifindex":4,"ifname":"tun9","flags":["UP"],"mtu":1500,"link_type":"ether","address":"02:00:00:00:00:04","linkinfo":{"info_kind":"tun"},"addr_info":[]}]
        """;

    public const string Routes4 = """
        [{"dst":"default","gateway":"10.99.7.1","dev":"eth0","flags":[]},{"dst":"10.99.7.0/24","dev":"eth0","protocol":"kernel","scope":"link","prefsrc":"10.99.7.2","flags":[]},{"dst":"10.99.9.0/24","gateway":"10.99.7.1","dev":"eth0","prefsrc":"10.99.7.2","flags":["linkdown"],"metrics":[{"mtu":1400}]},{"type":"unreachable","dst":"10.99.10.0/24","flags":[]},{"dst":"169.254.1.1","dev":"eth0","scope":"link","flags":[]}]
        """;

    public const string Routes6 = """
        [{"dst":"fd00:99::/64","dev":"eth0","protocol":"kernel","metric":256,"flags":[],"pref":"medium"},{"dst":"fe80::/64","dev":"eth0","protocol":"kernel","metric":256,"flags":[],"pref":"medium"},{"dst":"default","gateway":"fd00:99::1","dev":"eth0","protocol":"static","metric":1024,"flags":[],"pref":"medium"}]
        """;

    public const string Neigh = """
        [{"dst":"10.99.7.9","dev":"eth0","lladdr":"02:00:00:00:00:09","state":["PERMANENT"]},{"dst":"10.99.7.1","dev":"eth0","lladdr":"02:00:00:00:00:01","state":["REACHABLE"]},{"dst":"10.99.7.7","dev":"eth0","state":["FAILED"]}]
        """;

    public const string NoIngress = """
        [{"kind":"noqueue","handle":"0:","dev":"lo","root":true,"refcnt":2,"options":{}},{"kind":"noqueue","handle":"0:","dev":"eth0","root":true,"refcnt":2,"options":{}}]
        """;

    public const string EthIngress = """
        [{"kind":"noqueue","handle":"0:","dev":"eth0","root":true,"refcnt":2,"options":{}},{"kind":"ingress","handle":"ffff:","dev":"eth0","parent":"ffff:fff1","options":{}}]
        """;

    /// <summary>A handler that answers the scan of a namespace holding <paramref name="addr"/>; everything else succeeds.</summary>
    public static Func<RanCommand, CommandResult> Namespace(string addr = Addr, string qdiscs = NoIngress) => ran => ran.Line switch
    {
        "ip -j -d addr show" => FakeNetns.Ok(addr),
        "ip -j -4 route show table main" => FakeNetns.Ok(ran.Netns is null ? "[]" : Routes4),
        "ip -j -6 route show table main" => FakeNetns.Ok(Routes6),
        "ip -j neigh show" => FakeNetns.Ok(Neigh),
        "tc -j qdisc show" => FakeNetns.Ok(qdiscs),
        _ => FakeNetns.Ok(),
    };
}

using System.Globalization;

namespace KataSharp.Tests.EndToEnd.Behaviour;

/// <summary>The security-relevant lines of a process's /proc/PID/status, as a container process sees itself.</summary>
public sealed class ProcessStatus
{
    private readonly Dictionary<string, string> _fields;

    private ProcessStatus(Dictionary<string, string> fields) => _fields = fields;

    /// <summary>Linux capability numbers (capability.h) the checks name.</summary>
    public static class Cap
    {
        public const int Chown = 0, DacOverride = 1, Fowner = 3, Fsetid = 4, Kill = 5, Setgid = 6, Setuid = 7, Setpcap = 8,
            NetBindService = 10, NetAdmin = 12, NetRaw = 13, SysChroot = 18, SysAdmin = 21, SysTime = 25, Mknod = 27,
            AuditWrite = 29, Setfcap = 31;
    }

    /// <summary>containerd's default capabilities for a container (oci defaultUnixCaps), the same in 1.6 and 2.x.</summary>
    public static ulong ContainerdDefaultCapabilities { get; } = Mask(Cap.Chown, Cap.DacOverride, Cap.Fsetid, Cap.Fowner, Cap.Mknod, Cap.NetRaw,
        Cap.Setgid, Cap.Setuid, Cap.Setfcap, Cap.Setpcap, Cap.NetBindService, Cap.SysChroot, Cap.Kill, Cap.AuditWrite);

    public ulong CapInh => Hex("CapInh");

    public ulong CapPrm => Hex("CapPrm");

    public ulong CapEff => Hex("CapEff");

    public ulong CapBnd => Hex("CapBnd");

    public ulong CapAmb => Hex("CapAmb");

    public int NoNewPrivs => int.Parse(Field("NoNewPrivs"), CultureInfo.InvariantCulture);

    /// <summary>0 no seccomp, 2 a filter.</summary>
    public int Seccomp => int.Parse(Field("Seccomp"), CultureInfo.InvariantCulture);

    /// <summary>The real, effective, saved and filesystem ids.</summary>
    public IReadOnlyList<long> Uid => Ids("Uid");

    public IReadOnlyList<long> Gid => Ids("Gid");

    /// <summary>Supplementary groups, sorted.</summary>
    public IReadOnlyList<long> Groups => Ids("Groups").Order().ToList();

    public static ulong Mask(params int[] capabilities) => capabilities.Aggregate(0UL, (mask, cap) => mask | (1UL << cap));

    public static ProcessStatus Parse(string text) => new(text.Split('\n', StringSplitOptions.RemoveEmptyEntries)
        .Select(line => line.Split(':', 2))
        .Where(parts => parts.Length == 2)
        .GroupBy(parts => parts[0].Trim())
        .ToDictionary(g => g.Key, g => g.First()[1].Trim()));

    public override string ToString() => string.Join(", ", _fields.Where(f => f.Key.StartsWith("Cap", StringComparison.Ordinal) || f.Key is "NoNewPrivs" or "Seccomp" or "Uid" or "Gid" or "Groups")
        .Select(f => $"{f.Key}={f.Value}"));

    private string Field(string name) => _fields.TryGetValue(name, out var value)
        ? value
        : throw new CheckFailedException($"/proc/self/status has no {name}: {this}");

    private ulong Hex(string name) => ulong.Parse(Field(name), NumberStyles.HexNumber, CultureInfo.InvariantCulture);

    private List<long> Ids(string name) => Field(name).Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries)
        .Select(id => long.Parse(id, CultureInfo.InvariantCulture)).ToList();
}

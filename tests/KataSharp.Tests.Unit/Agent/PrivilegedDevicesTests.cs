using System.Text;
using System.Text.Json.Nodes;
using KataSharp.Agent.Containers;
using Xunit;

namespace KataSharp.Tests.Unit.Agent;

public sealed class PrivilegedDevicesTests
{
    private static readonly GuestDevice[] Guest = [new("/dev/vda", 'b', 254, 0, 0b110_110_000), new("/dev/kmsg", 'c', 1, 11, 0b110_100_100)];

    /// <summary>What containerd's WithPrivileged writes, with or without host devices.</summary>
    private const string PrivilegedSpec = """
        {
          "process": { "args": ["sh"], "capabilities": { "bounding": ["CAP_CHOWN", "CAP_MKNOD", "CAP_SYS_ADMIN"] } },
          "linux": {
            "devices": [{ "path": "/dev/nvme0n1", "type": "b", "major": 259, "minor": 0 }],
            "resources": { "devices": [{ "allow": false, "access": "rwm" }, { "allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm" }] },
            "namespaces": [{ "type": "pid" }]
          }
        }
        """;

    [Fact]
    public void PrivilegedSpec_GetsTheGuestsDevicesInPlaceOfTheHosts_AndAnOpenDeviceCgroup()
    {
        var spec = Translate(PrivilegedSpec);

        var devices = spec["linux"]!["devices"]!.AsArray().Select(d => (d!["path"]!.GetValue<string>(), d["type"]!.GetValue<string>(), d["major"]!.GetValue<long>(), d["minor"]!.GetValue<long>(), d["fileMode"]!.GetValue<int>())).ToList();
        Assert.Equal([("/dev/vda", "b", 254L, 0L, 0b110_110_000), ("/dev/kmsg", "c", 1L, 11L, 0b110_100_100)], devices);
        var rule = Assert.Single(spec["linux"]!["resources"]!["devices"]!.AsArray())!;
        Assert.True(rule["allow"]!.GetValue<bool>());
        Assert.Equal("rwm", rule["access"]!.GetValue<string>());
        Assert.Null(rule["major"]);
    }

    [Fact]
    public void AllowAllDeviceCgroup_IsPrivilegedOnItsOwn()
    {
        var spec = Translate("""
            { "process": { "args": ["sh"] }, "linux": { "maskedPaths": ["/proc/kcore"], "seccomp": { "defaultAction": "SCMP_ACT_ERRNO" },
              "resources": { "devices": [{ "allow": true, "access": "rwm" }] } } }
            """);
        Assert.Equal(2, spec["linux"]!["devices"]!.AsArray().Count);
    }

    [Theory]
    [InlineData("\"maskedPaths\": [\"/proc/kcore\"],")]
    [InlineData("\"readonlyPaths\": [\"/proc/sys\"],")]
    [InlineData("\"seccomp\": { \"defaultAction\": \"SCMP_ACT_ERRNO\" },")]
    public void SpecWithAnyConfinementLeft_KeepsItsDevicesAndRules(string confinement)
    {
        var spec = Translate(PrivilegedSpec.Replace("\"linux\": {", "\"linux\": { " + confinement, StringComparison.Ordinal));
        Assert.Equal("/dev/nvme0n1", Assert.Single(spec["linux"]!["devices"]!.AsArray())!["path"]!.GetValue<string>());
        Assert.Equal(2, spec["linux"]!["resources"]!["devices"]!.AsArray().Count);
    }

    [Fact]
    public void SpecWithoutSysAdmin_IsNotPrivileged()
    {
        var spec = JsonNode.Parse(PrivilegedSpec.Replace("\"CAP_SYS_ADMIN\"", "\"CAP_KILL\"", StringComparison.Ordinal))!.AsObject();
        Assert.False(PrivilegedDevices.IsPrivileged(spec));
    }

    [Fact]
    public void GuestDevicesAreNotReadForAnUnprivilegedSpec()
    {
        var spec = JsonNode.Parse(PrivilegedSpec.Replace("\"linux\": {", "\"linux\": { \"maskedPaths\": [\"/proc/kcore\"],", StringComparison.Ordinal))!.AsObject();
        PrivilegedDevices.Apply(spec, () => throw new InvalidOperationException("read"));
    }

    [Theory]
    [InlineData("8:0", 'b', "MAJOR=8\nMINOR=0\nDEVNAME=sda\nDEVTYPE=disk\n", "/dev/sda", 0b110_000_000)]
    [InlineData("1:3", 'c', "MAJOR=1\nMINOR=3\nDEVNAME=null\nDEVMODE=0666\n", "/dev/null", 0b110_110_110)]
    [InlineData("13:64", 'c', "MAJOR=13\nMINOR=64\nDEVNAME=input/event0\n", "/dev/input/event0", 0b110_000_000)]
    public void Uevent_GivesTheNodeDevtmpfsMakes(string majorMinor, char type, string uevent, string path, int mode)
    {
        var device = GuestDevices.Parse(majorMinor, type, uevent);
        Assert.NotNull(device);
        Assert.Equal(path, device.Path);
        Assert.Equal(type, device.Type);
        Assert.Equal(mode, device.FileMode);
        Assert.Equal(majorMinor, $"{device.Major}:{device.Minor}");
    }

    [Theory]
    [InlineData("5:1", "MAJOR=5\nMINOR=1\nDEVNAME=console\n")]
    [InlineData("5:2", "MAJOR=5\nMINOR=2\nDEVNAME=ptmx\n")]
    [InlineData("10:200", "MAJOR=10\nMINOR=200\n")]
    [InlineData("10:201", "MAJOR=10\nMINOR=201\nDEVNAME=../etc/passwd\n")]
    [InlineData("bad", "DEVNAME=x\n")]
    public void ConsolePtmxNamelessAndEscapingNodes_AreNotCopied(string majorMinor, string uevent) =>
        Assert.Null(GuestDevices.Parse(majorMinor, 'c', uevent));

    [Fact]
    public void Read_WalksSysDevCharAndBlock()
    {
        var sys = Directory.CreateTempSubdirectory("ks-sysdev").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(sys, "char", "1:3"));
            File.WriteAllText(Path.Combine(sys, "char", "1:3", "uevent"), "MAJOR=1\nMINOR=3\nDEVNAME=null\nDEVMODE=0666\n");
            Directory.CreateDirectory(Path.Combine(sys, "block", "254:0"));
            File.WriteAllText(Path.Combine(sys, "block", "254:0", "uevent"), "MAJOR=254\nMINOR=0\nDEVNAME=vda\n");

            Assert.Equal([new GuestDevice("/dev/null", 'c', 1, 3, 0b110_110_110), new GuestDevice("/dev/vda", 'b', 254, 0, 0b110_000_000)], GuestDevices.Read(sys));
        }
        finally
        {
            Directory.Delete(sys, recursive: true);
        }
    }

    private static JsonObject Translate(string spec) =>
        SpecTranslator.Translate(Encoding.UTF8.GetBytes(spec.Replace("\"process\": {", "\"root\": { \"path\": \"rootfs\" }, \"process\": {", StringComparison.Ordinal)),
            new SpecTranslationInput("c1", "/run/katasharp/shared", "c1/rootfs", false, 1) { ReadGuestDevices = () => Guest });
}

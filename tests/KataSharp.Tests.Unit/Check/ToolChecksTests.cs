using System.Text.Json;
using KataSharp.Cli.Check;
using KataSharp.Runtime.Containerd;

namespace KataSharp.Tests.Unit.Check;

public sealed class ToolChecksTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ks-check").FullName;

    [Fact]
    public void MissingTools_AreWarningsThatSayWhatNeedsThem()
    {
        var results = ToolChecks.Tools(t => t == "tc" ? "/usr/sbin/tc" : null, _ => false).ToDictionary(r => r.What);
        Assert.Equal(CheckResult.Ok, results["tc"].Level);
        Assert.Equal(CheckResult.Warn, results["iptables"].Level);
        Assert.Contains("NAT", results["iptables"].Detail);
        Assert.Equal(CheckResult.Warn, results["nsenter"].Level);
        Assert.Equal(CheckResult.Warn, results["CNI plugins"].Level);
        Assert.Equal(CheckResult.Warn, results["shim"].Level);
    }

    [Fact]
    public void CniPlugins_AreFoundInEitherDirectory()
    {
        var results = ToolChecks.Tools(_ => "/x", p => p.StartsWith("/usr/lib/cni/", StringComparison.Ordinal)).ToDictionary(r => r.What);
        Assert.Equal(CheckResult.Ok, results["CNI plugins"].Level);
        Assert.Contains("/usr/lib/cni", results["CNI plugins"].Detail);
    }

    [Fact]
    public void Containerd_SaysWhichConfigVersionItReads()
    {
        Assert.Contains("version 3", ToolChecks.Containerd(new ContainerdVersion(2, 1)).Detail);
        Assert.Contains("version 2", ToolChecks.Containerd(new ContainerdVersion(1, 6)).Detail);
        Assert.Equal(CheckResult.Warn, ToolChecks.Containerd(null).Level);
    }

    [Fact]
    public void TheRuntime_IsFoundInTheConfigOrAnImportedDropIn_AndMissedOtherwise()
    {
        var config = Path.Combine(_dir, "config.toml");
        Directory.CreateDirectory(Path.Combine(_dir, "conf.d"));
        File.WriteAllText(config, $"version = 3\nimports = [\"{_dir}/conf.d/*.toml\"]\n");
        Assert.Equal(CheckResult.Warn, ToolChecks.Registration(config).Level);

        File.WriteAllText(Path.Combine(_dir, "conf.d", "katasharp.toml"), "[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.katasharp]\n");
        var found = ToolChecks.Registration(config);
        Assert.Equal(CheckResult.Ok, found.Level);
        Assert.Contains("conf.d/katasharp.toml", found.Detail);

        File.WriteAllText(config, "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.katasharp]\n");
        Assert.Contains("config.toml:2", ToolChecks.Registration(config).Detail);
        Assert.Equal(CheckResult.Warn, ToolChecks.Registration(Path.Combine(_dir, "missing.toml")).Level);
    }

    [Fact]
    public void TheJsonReport_IsAnArrayOfLevelWhatDetail()
    {
        var text = JsonSerializer.Serialize([new CheckResult(CheckResult.Ok, "qemu", "7.2")], CheckJsonContext.Default.ListCheckResult);
        using var json = JsonDocument.Parse(text);
        var item = Assert.Single(json.RootElement.EnumerateArray());
        Assert.Equal("ok", item.GetProperty("level").GetString());
        Assert.Equal("qemu", item.GetProperty("what").GetString());
        Assert.Equal("7.2", item.GetProperty("detail").GetString());
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}

using System.Text.Json;
using KataSharp.Cli.Env;
using KataSharp.Runtime.Configuration;
using Xunit;

namespace KataSharp.Tests.Unit.Cli;

public sealed class EnvReportTests
{
    [Fact]
    public void Json_carries_every_configuration_key_and_the_resolved_paths()
    {
        var config = new KataSharpConfig();
        var json = JsonSerializer.Serialize(EnvReport.From(new LoadedConfig(config, "/etc/k.yaml")), EnvJsonContext.Default.EnvReport);

        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        Assert.Equal("/etc/k.yaml", root.GetProperty("configFile").GetString());
        Assert.False(string.IsNullOrEmpty(root.GetProperty("version").GetString()));
        var keys = root.GetProperty("config");
        foreach (var (name, value) in ConfigYamlWriter.Values(config))
        {
            Assert.Equal(value, keys.GetProperty(name).GetString());
        }

        Assert.Equal(config.Hypervisor.Path, keys.GetProperty("hypervisor.path").GetString());
        Assert.Equal(JsonValueKind.Array, root.GetProperty("enableAnnotations").ValueKind);
        var paths = root.GetProperty("paths");
        Assert.Equal(Path.Combine(config.Runtime.StateDir, "sandboxes"), paths.GetProperty("sandboxes").GetString());
        Assert.Equal(GuestAssets.ResolveKernel(config), paths.GetProperty("kernel").GetString());
    }
}

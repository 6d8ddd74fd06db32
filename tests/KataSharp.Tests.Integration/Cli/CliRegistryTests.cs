using KataSharp.Tests.Integration.Infrastructure;

namespace KataSharp.Tests.Integration.Cli;

/// <summary>A fact that runs only where Debian's docker-registry is installed (./build.sh deps installs it).</summary>
public sealed class LocalRegistryFactAttribute : FactAttribute
{
    public LocalRegistryFactAttribute()
    {
        if (!File.Exists(LocalRegistry.Program))
        {
            Skip = $"no {LocalRegistry.Program} on this host (apt-get install docker-registry, or ./build.sh deps)";
        }
    }
}

/// <summary>
/// katasharp run --image pulls from a registry (Debian's docker-registry on 127.0.0.1, the busybox image pushed into it):
/// the cold run downloads and unpacks, the warm run finds everything in the cache, and each job writes only its own
/// overlay upper layer. Two short VM runs.
/// </summary>
public sealed class CliRegistryTests
{
    [LocalRegistryFact]
    public async Task A_pulled_image_runs_cold_then_warm_from_the_cache()
    {
        TestEnvironment.RequirePrerequisites();
        await using var registry = await LocalRegistry.StartAsync(TestEnvironment.NewWorkDirectory("registry"), TestLog.Write);
        var repository = $"busybox-{Guid.NewGuid():N}"[..20];
        var digest = await registry.PushArchiveAsync(TestEnvironment.BusyboxImage, repository, "latest");
        var reference = $"{registry.Host}/{repository}:latest";
        // Every CLI job before this one put the same busybox blobs and layer into the shared cache; without this the
        // cold run would find them there (tests in this project run one at a time, so no job uses them now).
        var emptied = await KatasharpCli.RunAsync("prune", "--all");
        Assert.True(emptied.ExitCode == 0, emptied.ToString());

        var coldId = CliAssert.NewId("pull");
        var cold = await KatasharpCli.RunAsync("run", "--verbose", "--name", coldId, "--network", "none", "--image", reference, "--",
            "sh", "-c", "head -1 /etc/passwd; echo job > /etc/written; cat /etc/written");
        Assert.True(cold.ExitCode == 0, cold.ToString());
        Assert.Equal("root:x:0:0:root:/root:/bin/sh\njob\n", cold.Stdout);
        Assert.Matches($@"image {reference} \({digest}\): [1-9]\d* blobs downloaded, [1-9]\d* layers unpacked", cold.Stderr);
        CliAssert.NoTraceOf(coldId);

        var warmId = CliAssert.NewId("pull");
        var warm = await KatasharpCli.RunAsync("run", "--verbose", "--name", warmId, "--network", "none", "--image", reference, "--",
            "sh", "-c", "head -1 /etc/passwd; cat /etc/written 2>/dev/null || echo clean");
        Assert.True(warm.ExitCode == 0, warm.ToString());
        // The first job's write went to its own upper layer, gone with it; the shared layer is as pulled.
        Assert.Equal("root:x:0:0:root:/root:/bin/sh\nclean\n", warm.Stdout);
        Assert.Contains($"image {reference} ({digest}): 0 blobs downloaded, 0 layers unpacked", warm.Stderr, StringComparison.Ordinal);
        CliAssert.NoTraceOf(warmId);

        var images = await KatasharpCli.RunAsync("images");
        Assert.True(images.ExitCode == 0, images.ToString());
        Assert.Contains(reference, images.Stdout, StringComparison.Ordinal);
        Assert.Contains(digest["sha256:".Length..][..12], images.Stdout, StringComparison.Ordinal);

        var prune = await KatasharpCli.RunAsync("prune", "--all");
        Assert.True(prune.ExitCode == 0, prune.ToString());
        Assert.Matches(@"removed [1-9]\d* images", prune.Stdout);
        Assert.DoesNotContain(reference, (await KatasharpCli.RunAsync("images")).Stdout, StringComparison.Ordinal);
    }
}

using System.Security.Cryptography;
using KataSharp.Runtime.Sandbox;
using KataSharp.Tests.Integration.Infrastructure;

namespace KataSharp.Tests.Integration.Library;

/// <summary>Output is carried byte for byte: nothing lost, duplicated, reordered or translated on the way out of the VM.</summary>
[Collection(SharedSandboxCollection.Name)]
public sealed class LargeOutputTests(SharedSandboxFixture fixture)
{
    private const int Size = 16 * 1024 * 1024;

    [Fact]
    public async Task Sixteen_MiB_of_stdout_arrive_intact()
    {
        // Deterministic, incompressible bytes in a host file, read-only-mounted into the container.
        var volume = TestEnvironment.NewWorkDirectory("blob");
        var blob = Path.Combine(volume, "blob");
        var data = new byte[Size];
        new Random(20240516).NextBytes(data);
        await File.WriteAllBytesAsync(blob, data);
        var expected = Convert.ToHexStringLower(SHA256.HashData(data));

        await using var container = await fixture.StartAsync("bigout", ["sh", "-c", "cat /data/blob; sha256sum /data/blob >&2"],
            edit: spec => DefaultSpec.AddBindMount(spec, volume, "/data", readOnly: true));
        var exit = await container.WaitAsync();
        await container.Output.DrainAsync();

        Assert.Equal(0, exit.ExitCode);
        Assert.Equal(Size, container.Output.Stdout.Length);
        Assert.Equal(expected, container.Output.Stdout.Sha256Hex);
        // The guest read the same bytes the host wrote (the hash of the share's side, computed in the VM).
        Assert.StartsWith(expected + " ", container.Output.Stderr.Text);
    }
}

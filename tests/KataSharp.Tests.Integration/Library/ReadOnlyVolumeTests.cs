using KataSharp.Runtime.Sandbox;
using KataSharp.Tests.Integration.Infrastructure;

namespace KataSharp.Tests.Integration.Library;

/// <summary>A bind volume marked read-only cannot be written from the container, and the host's files behind it stay as they were.</summary>
[Collection(SharedSandboxCollection.Name)]
public sealed class ReadOnlyVolumeTests(SharedSandboxFixture fixture)
{
    private const string Script = """
        if echo changed > /ro/file 2>/dev/null; then echo ro-write=yes; else echo ro-write=no; fi
        if touch /ro/new 2>/dev/null; then echo ro-create=yes; else echo ro-create=no; fi
        if rm /ro/file 2>/dev/null; then echo ro-delete=yes; else echo ro-delete=no; fi
        echo "ro-content=$(cat /ro/file)"
        echo "ro-mount=$(grep ' /ro ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1)"
        if echo written > /rw/file; then echo rw-write=yes; else echo rw-write=no; fi
        """;

    [Fact]
    public async Task Writes_to_a_read_only_volume_fail_and_the_host_file_is_unchanged()
    {
        var ro = TestEnvironment.NewWorkDirectory("ro-volume");
        var rw = TestEnvironment.NewWorkDirectory("rw-volume");
        await File.WriteAllTextAsync(Path.Combine(ro, "file"), "original");

        await using var container = await fixture.StartAsync("rovol", ["sh", "-c", Script], edit: spec =>
        {
            DefaultSpec.AddBindMount(spec, ro, "/ro", readOnly: true);
            DefaultSpec.AddBindMount(spec, rw, "/rw", readOnly: false);
        });
        var exit = await container.WaitAsync();
        await container.Output.DrainAsync();
        var stdout = container.Output.Stdout.Text;

        Assert.Equal(0, exit.ExitCode);
        Assert.Contains("ro-write=no\n", stdout);
        Assert.Contains("ro-create=no\n", stdout);
        Assert.Contains("ro-delete=no\n", stdout);
        Assert.Contains("ro-content=original\n", stdout);
        Assert.Contains("ro-mount=ro\n", stdout);
        Assert.Equal("original", await File.ReadAllTextAsync(Path.Combine(ro, "file")));
        Assert.Equal(["file"], Directory.GetFileSystemEntries(ro).Select(Path.GetFileName));
        // The control: the same container can write through a read-write volume, so the checks above can fail.
        Assert.Contains("rw-write=yes\n", stdout);
        Assert.Equal("written\n", await File.ReadAllTextAsync(Path.Combine(rw, "file")));
    }
}

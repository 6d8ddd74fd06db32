using KataSharp.Tests.Integration.Infrastructure;

namespace KataSharp.Tests.Integration.Cli;

/// <summary>katasharp run -v HOST:GUEST:ro gives the job a volume it cannot write, and -v HOST:GUEST one it can.</summary>
public sealed class CliVolumeTests
{
    private const string Script = """
        if echo changed > /ro/file 2>/dev/null; then echo ro-write=yes; else echo ro-write=no; fi
        if touch /ro/new 2>/dev/null; then echo ro-create=yes; else echo ro-create=no; fi
        echo "ro-content=$(cat /ro/file)"
        echo written > /rw/file && echo rw-write=yes
        """;

    [Fact]
    public async Task A_read_only_volume_stays_read_only()
    {
        var ro = TestEnvironment.NewWorkDirectory("cli-ro");
        var rw = TestEnvironment.NewWorkDirectory("cli-rw");
        await File.WriteAllTextAsync(Path.Combine(ro, "file"), "original");
        var id = CliAssert.NewId("vol");

        var result = await KatasharpCli.RunAsync("run", "--name", id, "-v", $"{ro}:/ro:ro", "-v", $"{rw}:/rw", "--", "sh", "-c", Script);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("ro-write=no\nro-create=no\nro-content=original\nrw-write=yes\n", result.Stdout);
        Assert.Equal("original", await File.ReadAllTextAsync(Path.Combine(ro, "file")));
        Assert.Equal(["file"], Directory.GetFileSystemEntries(ro).Select(Path.GetFileName));
        Assert.Equal("written\n", await File.ReadAllTextAsync(Path.Combine(rw, "file")));
        CliAssert.NoTraceOf(id);
        // The volumes' host directories are left mounted nowhere.
        Assert.Empty(Leftovers.MountPointsUnder(ro));
    }
}

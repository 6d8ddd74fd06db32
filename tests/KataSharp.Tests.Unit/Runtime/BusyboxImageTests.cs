using KataSharp.Runtime.Images;

namespace KataSharp.Tests.Unit.Runtime;

/// <summary>The applet list is read from a real (fake) busybox process, bounded.</summary>
public sealed class BusyboxImageTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ks-busybox-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string FakeBusybox(string script)
    {
        var path = Path.Combine(_dir, "busybox");
        File.WriteAllText(path, $"#!/bin/sh\n{script}\n");
        File.SetUnixFileMode(path, (UnixFileMode)0b111_101_101);
        return path;
    }

    [Fact]
    public async Task The_applets_busybox_lists_become_the_image()
    {
        var archive = Path.Combine(_dir, "image.oci.tar");

        await BusyboxImage.BuildAsync(FakeBusybox("printf '/bin/sh\\nusr/bin/env\\n'"), archive, BusyboxImage.DefaultReference, CancellationToken.None);

        Assert.True(new FileInfo(archive).Length > 0);
    }

    [Fact]
    public async Task A_list_past_the_bound_is_refused_and_the_process_still_completes()
    {
        var busybox = FakeBusybox("head -c 10485760 /dev/zero");

        var e = await Assert.ThrowsAsync<ImageException>(() =>
            BusyboxImage.BuildAsync(busybox, Path.Combine(_dir, "image.oci.tar"), BusyboxImage.DefaultReference, CancellationToken.None));

        Assert.Contains("printed more than", e.Message, StringComparison.Ordinal);
    }
}

using System.Formats.Tar;
using KataSharp.Runtime.Images;

namespace KataSharp.Tests.Unit.Runtime;

public sealed class HostFileEntriesTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ks-hostfiles").FullName;

    [Fact]
    public void ATreeComesInWithItsParents_ModesAndLinkTargetsResolved()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "payload", "bin"));
        File.WriteAllText(Path.Combine(_dir, "payload", "bin", "tool"), "x");
        File.SetUnixFileMode(Path.Combine(_dir, "payload", "bin", "tool"), (UnixFileMode)0b111_101_101);
        File.WriteAllText(Path.Combine(_dir, "libc.so.6.real"), "libc");
        File.CreateSymbolicLink(Path.Combine(_dir, "libc.so.6"), Path.Combine(_dir, "libc.so.6.real"));

        var entries = HostFileEntries.Merge([LayerEntry.Dir("opt"), LayerEntry.Text("etc/passwd", "root")],
            [$"{_dir}/payload=opt/ks/artifacts", $"{_dir}/libc.so.6=lib/libc.so.6"]).ToDictionary(e => e.Path);

        Assert.Equal(TarEntryType.Directory, entries["opt/ks"].Type);
        Assert.Equal(TarEntryType.Directory, entries["opt/ks/artifacts/bin"].Type);
        Assert.Equal((UnixFileMode)0b111_101_101, entries["opt/ks/artifacts/bin/tool"].Mode);
        Assert.Equal(Path.Combine(_dir, "libc.so.6.real"), entries["lib/libc.so.6"].SourceFile);
        Assert.Equal(TarEntryType.Directory, entries["lib"].Type);
        Assert.Single(entries.Keys, k => k == "opt");
        Assert.True(entries.ContainsKey("etc/passwd"));
    }

    [Theory]
    [InlineData("no-equals")]
    [InlineData("/tmp=../escape")]
    [InlineData("/nonexistent-source=x")]
    public void ABadAddition_IsAnImageError(string addition) =>
        Assert.Throws<ImageException>(() => HostFileEntries.Merge([], [addition]));

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}

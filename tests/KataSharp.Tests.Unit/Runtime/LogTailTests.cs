using KataSharp.Runtime.Hypervisors;

namespace KataSharp.Tests.Unit.Runtime;

public sealed class LogTailTests : IDisposable
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"ks-logtail-{Guid.NewGuid():N}.log");

    public void Dispose() => File.Delete(_path);

    [Fact]
    public void TheLastLinesOfASmallLog()
    {
        File.WriteAllText(_path, "one\r\ntwo\n\nthree\nfour\n");

        Assert.Equal("three\nfour", LogTail.Read(_path, maxLines: 2));
        Assert.Equal("one\ntwo\nthree\nfour", LogTail.Read(_path));
    }

    [Fact]
    public void ALineCutByTheWindowIsLeftOut()
    {
        File.WriteAllText(_path, "a-long-first-line\nsecond\nthird\n");

        // The window (the last 10 bytes) starts inside "second": only whole lines are shown.
        Assert.Equal("third", LogTail.Read(_path, maxBytes: 10));
    }

    [Fact]
    public void AMissingLogIsEmpty() => Assert.Equal("", LogTail.Read(_path + ".missing"));
}

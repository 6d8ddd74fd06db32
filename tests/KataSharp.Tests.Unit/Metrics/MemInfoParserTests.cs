using KataSharp.Agent.Stats;

namespace KataSharp.Tests.Unit.Metrics;

public sealed class MemInfoParserTests
{
    [Fact]
    public void GuestMemory_IsReadInBytes_FromMeminfo()
    {
        var memory = MemInfoParser.Parse("MemTotal:         503244 kB\nMemFree:          400000 kB\nMemAvailable:     450000 kB\nBuffers:            1000 kB\nCached:            20000 kB\nHugePages_Total:       0\n");
        Assert.Equal(503244UL * 1024, memory.TotalBytes);
        Assert.Equal(400000UL * 1024, memory.FreeBytes);
        Assert.Equal(450000UL * 1024, memory.AvailableBytes);
        Assert.Equal(20000UL * 1024, memory.CachedBytes);
    }
}

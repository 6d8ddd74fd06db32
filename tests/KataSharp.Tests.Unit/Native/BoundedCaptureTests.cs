using KataSharp.Native.Processes;

namespace KataSharp.Tests.Unit.Native;

public sealed class BoundedCaptureTests
{
    [Fact]
    public void UnderTheLimit_EverythingIsKept()
    {
        var capture = new BoundedCapture(10);
        capture.Append("hello "u8);
        capture.Append("you"u8);

        Assert.Equal("hello you", capture.Text());
        Assert.Equal(0, capture.Dropped);
    }

    [Fact]
    public void PastTheLimit_TheFirstBytesAreKept_TheRestCounted_AndTheTextSaysItIsCut()
    {
        var capture = new BoundedCapture(8);
        capture.Append("0123456"u8);
        capture.Append("789abc"u8);
        capture.Append(new byte[1000]);

        Assert.Equal(1005, capture.Dropped);
        Assert.Equal("01234567\n[output cut: 1005 more bytes dropped past 8]", capture.Text());
    }

    [Fact]
    public async Task Draining_a_flooding_child_keeps_the_limit_reads_the_rest_and_lets_the_child_finish()
    {
        using var child = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("sh", ["-c", "head -c 10485760 /dev/zero"])
        {
            RedirectStandardOutput = true,
            UseShellExecute = false,
        })!;
        var capture = new BoundedCapture(64 * 1024);
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));

        await capture.DrainAsync(child.StandardOutput.BaseStream, timeout.Token);
        await child.WaitForExitAsync(timeout.Token);

        Assert.Equal(0, child.ExitCode);
        Assert.True(capture.Truncated);
        Assert.Equal(10485760 - (64 * 1024), capture.Dropped);
        Assert.EndsWith($"[output cut: {10485760 - (64 * 1024)} more bytes dropped past {64 * 1024}]", capture.Text(), StringComparison.Ordinal);
    }
}

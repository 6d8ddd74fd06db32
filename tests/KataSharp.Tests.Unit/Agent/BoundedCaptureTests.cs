using KataSharp.Agent.Processes;

namespace KataSharp.Tests.Unit.Agent;

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
}

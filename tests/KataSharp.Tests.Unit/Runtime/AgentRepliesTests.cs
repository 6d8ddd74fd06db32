using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using KataSharp.Protocol.Agent.V1;
using KataSharp.Protocol.Errors;
using KataSharp.Runtime.Agent;

namespace KataSharp.Tests.Unit.Runtime;

public sealed class AgentRepliesTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData(1L << 62, 0)]
    [InlineData(long.MaxValue, 0)]
    [InlineData(-1L << 62, 0)]
    [InlineData(0L, -5)]
    [InlineData(0L, int.MaxValue)]
    public void AnImpossibleExitTimeIsClampedIntoTheEpochToNow(long seconds, int nanos)
    {
        var reply = AgentReplies.Validate(new WaitProcessResponse { ExitedAt = new Timestamp { Seconds = seconds, Nanos = nanos } }, Now);

        Assert.InRange(reply.ExitedAt.ToDateTimeOffset(), DateTimeOffset.UnixEpoch, Now);
    }

    [Fact]
    public void AnOrdinaryExitIsKept()
    {
        var at = Now.AddMinutes(-1);
        var reply = AgentReplies.Validate(new WaitProcessResponse { ExitStatus = 137, OomKilled = true, ExitedAt = Timestamp.FromDateTimeOffset(at) }, Now);

        Assert.Equal((137, true, at), (reply.ExitStatus, reply.OomKilled, reply.ExitedAt.ToDateTimeOffset()));
    }

    [Fact]
    public void AMissingExitTimeIsNow() => Assert.Equal(Now, AgentReplies.Validate(new WaitProcessResponse(), Now).ExitedAt.ToDateTimeOffset());

    [Theory]
    [InlineData(-1)]
    [InlineData(256)]
    [InlineData(int.MinValue)]
    public void AnExitStatusOutsideAByteIs255(int status) =>
        Assert.Equal(255, AgentReplies.Validate(new WaitProcessResponse { ExitStatus = status }, Now).ExitStatus);

    [Fact]
    public void MoreOutputThanAskedForIsTheAgentsFault()
    {
        var e = Assert.Throws<KataSharpException>(() => AgentReplies.Validate(new ReadOutputResponse { Data = ByteString.CopyFrom(new byte[11]) }, 10));
        Assert.Equal(ErrorKind.Internal, e.Kind);
    }

    [Fact]
    public void MoreWrittenThanSentIsTheAgentsFault() =>
        Assert.Equal(ErrorKind.Internal, Assert.Throws<KataSharpException>(() => AgentReplies.ValidateWritten(5, ByteString.CopyFromUtf8("abc"))).Kind);

    [Fact]
    public void EmptyReadsWaitLongerEachTimeUpToTheMaximumAndDataResets()
    {
        var backoff = new EmptyReadBackoff();
        var waits = Enumerable.Range(0, 12).Select(_ => backoff.Empty()).ToList();
        backoff.Data();

        Assert.Equal(EmptyReadBackoff.Initial, waits[0]);
        Assert.All(waits.Zip(waits.Skip(1)), w => Assert.True(w.Second >= w.First));
        Assert.Equal(EmptyReadBackoff.Max, waits[^1]);
        Assert.Equal(EmptyReadBackoff.Initial, backoff.Empty());
    }
}

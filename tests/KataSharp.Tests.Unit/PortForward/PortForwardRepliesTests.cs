using Google.Protobuf;
using KataSharp.Protocol.Agent.V1;
using KataSharp.Protocol.Errors;
using KataSharp.Runtime.Agent;

namespace KataSharp.Tests.Unit.PortForward;

/// <summary>What the host accepts from a guest that answers port-forward reads: never more than it asked for.</summary>
public sealed class PortForwardRepliesTests
{
    [Fact]
    public void A_read_of_at_most_the_size_asked_for_is_kept()
    {
        var reply = new ReadPortForwardResponse { Data = ByteString.CopyFrom(new byte[32]) };

        Assert.Same(reply, AgentReplies.Validate(reply, 32));
        Assert.True(AgentReplies.Validate(new ReadPortForwardResponse { Eof = true }, 32).Eof);
    }

    [Theory]
    [InlineData(33, false)]
    [InlineData(1, true)]
    public void More_than_asked_for_or_data_with_eof_is_the_agents_fault(int bytes, bool eof)
    {
        var e = Assert.Throws<KataSharpException>(() => AgentReplies.Validate(new ReadPortForwardResponse { Data = ByteString.CopyFrom(new byte[bytes]), Eof = eof }, 32));

        Assert.Equal(ErrorKind.Internal, e.Kind);
    }
}
